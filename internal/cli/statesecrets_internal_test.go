package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/alchemy-go/alchemy/internal/engine"
	"github.com/alchemy-go/alchemy/internal/secret"
	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/backends"
)

// sharedStandIn is a local backend that presents itself as a shared one.
type sharedStandIn struct{ *state.LocalBackend }

func (sharedStandIn) Describe() string { return "postgres://deploy@db.test:5432/alchemy" }

// A deploy with secrets to a shared store needs ALCHEMY_PASSWORD, and says
// so before anything is read or changed, naming the variable and every
// secret; the local store, a password, or no secret at all let it run.
func TestSecretsNeedAPasswordInSharedState(t *testing.T) {
	spec := func(secrets bool) *engine.Spec {
		s := &engine.Spec{Stack: "hello", Stage: "prod", Nodes: []*engine.Node{
			{FQN: "Api", Props: map[string]engine.Value{"name": nil}, Secret: map[string]bool{}},
		}}
		if secrets {
			s.Nodes[0].Props["token"] = nil
			s.Nodes[0].Secret["token"] = true
		}
		return s
	}
	shared := &openedState{backend: sharedStandIn{state.NewLocalBackend(t.TempDir())},
		loc: backends.Location{Kind: backends.Postgres, Display: "postgres://deploy@db.test:5432/alchemy"}}
	local := &openedState{backend: state.NewLocalBackend(t.TempDir()), loc: backends.Location{Kind: backends.Local}}
	home := t.TempDir()
	for _, c := range []struct {
		name     string
		st       *openedState
		password string
		secrets  bool
		refused  bool
	}{
		{"shared, no password, a secret", shared, "", true, true},
		{"shared, a password", shared, "pw", true, false},
		{"shared, no secret", shared, "", false, false},
		{"local, no password", local, "", true, false},
	} {
		env := &stackEnv{st: c.st, spec: spec(c.secrets), secrets: secret.New(c.password, home)}
		err := env.checkSecretsStorable()
		if !c.refused {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var exit *ExitError
		if !errors.As(err, &exit) || exit.Code != ExitFailure {
			t.Fatalf("%s: %v, want exit 1", c.name, err)
		}
		for _, want := range []string{"ALCHEMY_PASSWORD", "Api.token", "postgres://deploy@db.test:5432/alchemy", "Nothing was changed."} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %q does not say %q", c.name, err, want)
			}
		}
	}
}
