package alchemy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/cli"
	"github.com/alchemy-go/alchemy/internal/stacktest"
)

// vault is a typed provider with a secret prop that is not a map, and one
// fed by a secret value: it records what each call got.
type vaultProps struct {
	Token   alchemy.Input[string] `json:"token" secret:"true"`
	Dsn     alchemy.Input[string] `json:"dsn"`
	Replica alchemy.Input[int]    `json:"replica"`
}

type vaultArgs struct {
	Token   string `json:"token"`
	Dsn     string `json:"dsn"`
	Replica int    `json:"replica"`
}

type vaultAttrs struct {
	ID string `json:"id"`
}

type vault struct {
	mu    sync.Mutex
	calls []string
	fail  bool // Update fails, quoting the secret it was given
}

func (*vault) Type() string        { return "Test.Vault" }
func (*vault) ReplaceOn() []string { return []string{"replica"} }

func (v *vault) record(op string, r *alchemy.Request[vaultArgs, vaultAttrs]) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, fmt.Sprintf("%s token=%s dsn=%s old.token=%s old.dsn=%s", op, r.Props.Token, r.Props.Dsn, r.OldProps.Token, r.OldProps.Dsn))
}

func (v *vault) Create(_ context.Context, r *alchemy.Request[vaultArgs, vaultAttrs]) (vaultAttrs, error) {
	v.record("create", r)
	return vaultAttrs{ID: "v-" + r.InstanceID[:6]}, nil
}

func (v *vault) Update(_ context.Context, r *alchemy.Request[vaultArgs, vaultAttrs]) (vaultAttrs, error) {
	v.record("update", r)
	if v.fail {
		return vaultAttrs{}, fmt.Errorf("the server rejected dsn %q", r.Props.Dsn)
	}
	return r.OldAttrs, nil
}

func (v *vault) Delete(_ context.Context, r *alchemy.Request[vaultArgs, vaultAttrs]) error {
	v.record("delete", r)
	return nil
}

func (v *vault) take() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.calls
	v.calls = nil
	return out
}

const (
	token    = "tok-9f8e7d6c5b4a"
	password = "pw-1a2b3c4d"
)

func vaultStack(p *vault, tok, pw string, replica int) *cli.StackProgram {
	return stacktest.Program("vault", func(s *alchemy.Stack) {
		r := alchemy.Declare[vaultArgs, vaultAttrs](s, p, "Vault", vaultProps{
			Token:   alchemy.String(tok),
			Dsn:     alchemy.Sprintf("postgres://app:%s@db/app", alchemy.Secret(pw)),
			Replica: alchemy.Int(replica),
		})
		s.Output("dsn", alchemy.Sprintf("postgres://app:%s@db", alchemy.Secret(pw)))
		s.Output("id", alchemy.Attr[string](r, "id"))
	})
}

// stateText is every state file of the project, concatenated.
func stateText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(filepath.Join(dir, ".alchemy"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			b.Write(data)
		}
		return nil
	})
	return b.String()
}

func noSecrets(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{token, password} {
		if strings.Contains(text, s) {
			t.Fatalf("%s shows a secret (%s):\n%s", where, s, text)
		}
	}
}

func TestSecretsNeverShowAndStillDecode(t *testing.T) {
	dir := workdir(t)
	p := &vault{}
	prog := vaultStack(p, token, password, 1)

	r := run(t, prog, nil, "plan", "--detailed")
	noSecrets(t, "plan --detailed", r.out+r.errOut)
	if !strings.Contains(r.out, "+ token: (secret)") || !strings.Contains(r.out, "+ dsn: (secret)") {
		t.Fatalf("plan --detailed does not mark the secrets:\n%s", r.out)
	}
	r = run(t, prog, nil, "plan", "--json")
	noSecrets(t, "plan --json", r.out)
	r = run(t, prog, nil, "deploy", "--yes", "--json")
	if r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.errOut)
	}
	noSecrets(t, "deploy --json", r.out+r.errOut)
	var j map[string]any
	if err := json.Unmarshal([]byte(r.out), &j); err != nil || j["outputs"].(map[string]any)["dsn"] != "(secret)" {
		t.Fatalf("deploy --json outputs: %v %s", err, r.out)
	}
	noSecrets(t, "state", stateText(t, dir))
	if got := p.take(); len(got) != 1 || !strings.Contains(got[0], "token="+token) || !strings.Contains(got[0], "dsn=postgres://app:"+password+"@db/app") {
		t.Fatalf("the provider did not get the secrets in clear: %q", got)
	}

	// The same secret hashes differently in another stage.
	r = run(t, prog, nil, "deploy", "--yes", "--stage", "other")
	if r.code != 0 {
		t.Fatal(r.errOut)
	}
	hash := func(stage string) string {
		data, _ := os.ReadFile(filepath.Join(dir, ".alchemy", "state", "vault", stage, "Vault.json"))
		var row struct {
			Props map[string]map[string]string `json:"props"`
		}
		json.Unmarshal(data, &row)
		return row.Props["token"]["__redacted__"]
	}
	if a, b := hash("dev_tester"), hash("other"); !strings.HasPrefix(a, "hmac-sha256:") || a == b {
		t.Fatalf("token hashes: %q %q (want keyed, and different per stage)", a, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "home", "state-hmac.key")); err != nil {
		t.Fatalf("the hash key is not in the alchemy home: %v", err)
	}
	p.take()

	// Unchanged secrets: no change. A changed secret: an update, whose old
	// value is unknown (only hashed) but whose typed props decode.
	if r = run(t, prog, nil, "plan"); !strings.Contains(r.out, "Plan: no changes") {
		t.Fatalf("re-plan: %s", r.out)
	}
	prog = vaultStack(p, token+"-2", password, 1)
	r = run(t, prog, nil, "deploy", "--yes")
	noSecrets(t, "deploy", r.out+r.errOut)
	if r.code != 0 {
		t.Fatalf("update: %d %s", r.code, r.errOut)
	}
	if got := p.take(); len(got) != 1 || !strings.HasPrefix(got[0], "update token="+token+"-2") || !strings.Contains(got[0], "old.token= ") {
		t.Fatalf("update calls: %q", got)
	}

	// A provider error quoting a secret is scrubbed everywhere.
	p.fail = true
	prog = vaultStack(p, token+"-2", password+"x", 1)
	r = run(t, prog, nil, "deploy", "--yes", "--json")
	if r.code == 0 {
		t.Fatal("failing update succeeded")
	}
	noSecrets(t, "a failing deploy", r.out+r.errOut)
	if !strings.Contains(r.errOut+r.out, "the server rejected dsn \"post****\"") {
		t.Fatalf("the error lost its context:\n%s%s", r.out, r.errOut)
	}
	p.fail = false

	// A replace and a destroy of a typed secret prop work.
	prog = vaultStack(p, token+"-2", password, 2)
	if r = run(t, prog, nil, "deploy", "--yes"); r.code != 0 {
		t.Fatalf("replace: %s", r.errOut)
	}
	if r = run(t, prog, nil, "destroy", "--yes"); r.code != 0 {
		t.Fatalf("destroy: %s", r.errOut)
	}
	noSecrets(t, "state", stateText(t, dir))
}

func TestSecretsEncryptedWithPassword(t *testing.T) {
	dir := workdir(t)
	p := &vault{}
	t.Setenv("ALCHEMY_PASSWORD", "correct horse")
	prog := vaultStack(p, token, password, 1)
	if r := run(t, prog, nil, "deploy", "--yes"); r.code != 0 {
		t.Fatalf("deploy: %s", r.errOut)
	}
	text := stateText(t, dir)
	noSecrets(t, "state", text)
	if !strings.Contains(text, `"__secret__": "v1:`) {
		t.Fatalf("state is not encrypted:\n%s", text)
	}
	p.take()

	// Without the password: a clear error, never a silent re-create.
	t.Setenv("ALCHEMY_PASSWORD", "")
	r := run(t, prog, nil, "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "Set ALCHEMY_PASSWORD to the key that wrote this state") {
		t.Fatalf("deploy without the password: %d %s", r.code, r.errOut)
	}
	t.Setenv("ALCHEMY_PASSWORD", "wrong")
	r = run(t, prog, nil, "deploy", "--yes")
	if r.code == 0 || !strings.Contains(r.errOut, "written with another password") {
		t.Fatalf("deploy with a wrong password: %d %s", r.code, r.errOut)
	}
	if got := p.take(); len(got) != 0 {
		t.Fatalf("calls without the right password: %q", got)
	}

	// With it: the old values decode for the update.
	t.Setenv("ALCHEMY_PASSWORD", "correct horse")
	if r := run(t, prog, nil, "plan"); !strings.Contains(r.out, "Plan: no changes") {
		t.Fatalf("plan: %s %s", r.out, r.errOut)
	}
	prog = vaultStack(p, token+"-2", password, 1)
	if r := run(t, prog, nil, "deploy", "--yes"); r.code != 0 {
		t.Fatalf("update: %s", r.errOut)
	}
	if got := p.take(); len(got) != 1 || !strings.Contains(got[0], "old.token="+token+" ") || !strings.Contains(got[0], "old.dsn=postgres://app:"+password+"@db/app") {
		t.Fatalf("update did not get the decrypted old props: %q", got)
	}
}

// State written by this tool before secrets were keyed (an unsalted
// sha256), or by the TypeScript tool (in clear), is rewritten sealed at the
// next deploy, without an update.
func TestOldSecretFormsAreResealed(t *testing.T) {
	dir := workdir(t)
	p := &vault{}
	prog := vaultStack(p, token, password, 1)
	if r := run(t, prog, nil, "deploy", "--yes"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	path := filepath.Join(dir, ".alchemy", "state", "vault", "dev_tester", "Vault.json")
	data, _ := os.ReadFile(path)
	var row map[string]any
	json.Unmarshal(data, &row)
	props := row["props"].(map[string]any)
	props["token"] = map[string]any{"__redacted__": token}                                  // the TypeScript tool's form
	props["dsn"] = map[string]any{"__redacted__": "postgres://app:" + password + "@db/app"} // in clear
	data, _ = json.MarshalIndent(row, "", "  ")
	os.WriteFile(path, data, 0o600)
	p.take()
	r := run(t, prog, nil, "deploy", "--yes")
	if r.code != 0 || !strings.Contains(r.out, "Plan: no changes") {
		t.Fatalf("deploy: %d %s %s", r.code, r.out, r.errOut)
	}
	if got := p.take(); len(got) != 0 {
		t.Fatalf("resealing called the provider: %q", got)
	}
	noSecrets(t, "state after resealing", stateText(t, dir))
}
