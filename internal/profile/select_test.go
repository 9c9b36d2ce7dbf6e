package profile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/alchemy-go/alchemy/internal/envfile"
)

func TestSelectPrecedence(t *testing.T) {
	cases := []struct {
		name       string
		flag       string
		flagSet    bool
		dotenv     string // content of the dotenv file, "" for none
		processEnv string // ALCHEMY_PROFILE in the process, "" for unset
		want       Selection
		wantErr    bool
	}{
		{name: "nothing set", want: Selection{"default", "built-in default"}},
		{name: "process env", processEnv: "work", want: Selection{"work", "ALCHEMY_PROFILE"}},
		{name: "dotenv", dotenv: "ALCHEMY_PROFILE=dot", want: Selection{"dot", "ALCHEMY_PROFILE in .env"}},
		// The process environment wins, as with every dotenv tool: a
		// committed .env never beats what a CI job or a shell exports.
		{name: "process env beats dotenv", dotenv: "ALCHEMY_PROFILE=dot", processEnv: "work", want: Selection{"work", "ALCHEMY_PROFILE"}},
		{name: "flag beats everything", flag: "prod", flagSet: true, dotenv: "ALCHEMY_PROFILE=dot", processEnv: "work", want: Selection{"prod", "--profile"}},
		// An omitted flag must not shadow ALCHEMY_PROFILE (upstream's bug).
		{name: "omitted flag does not shadow env", flag: "", flagSet: false, processEnv: "work", want: Selection{"work", "ALCHEMY_PROFILE"}},
		{name: "explicit default flag wins", flag: "default", flagSet: true, processEnv: "work", want: Selection{"default", "--profile"}},
		{name: "empty env value falls through", processEnv: "", dotenv: "ALCHEMY_PROFILE=", want: Selection{"default", "built-in default"}},
		{name: "invalid flag", flag: "../x", flagSet: true, wantErr: true},
		{name: "explicitly empty flag", flag: "", flagSet: true, wantErr: true},
		{name: "unexpanded placeholder", processEnv: "${ALCHEMY_PROFILE:-default}", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			if tc.dotenv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tc.dotenv+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.processEnv != "" {
				t.Setenv("ALCHEMY_PROFILE", tc.processEnv)
			} else {
				t.Setenv("ALCHEMY_PROFILE", "")
				os.Unsetenv("ALCHEMY_PROFILE")
			}
			env, err := envfile.Load("", false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Select(tc.flag, tc.flagSet, env)
			if tc.wantErr {
				if _, ok := err.(*InvalidNameError); !ok {
					t.Fatalf("Select = %v, %v; want InvalidNameError", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Select = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestEnvFileFlag(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("ALCHEMY_PROFILE=fromdotenv\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "ci.env"), []byte("ALCHEMY_PROFILE=fromci\n"), 0o600)
	env, err := envfile.Load("ci.env", true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Select("", false, env)
	if err != nil || got != (Selection{"fromci", "ALCHEMY_PROFILE in ci.env"}) {
		t.Fatalf("Select = %+v, %v", got, err)
	}
	if _, err := envfile.Load("missing.env", true); err == nil {
		t.Fatal("a missing --env-file was accepted")
	}
}
