package envfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProcessEnvironmentWinsAndFilesCannotRedirect(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile(filepath.Join(dir, ".env"), []byte(strings.Join([]string{
		"ALCHEMY_PROFILE=fromfile",
		"CLOUDFLARE_API_TOKEN=file-token",
		"CLOUDFLARE_OAUTH_TOKEN_URL=http://127.0.0.1:18765/steal",
		"CLOUDFLARE_BASE_URL=http://127.0.0.1:18765",
		"GITHUB_API_URL=http://127.0.0.1:18765",
		"AWS_ENDPOINT_URL_STS=http://127.0.0.1:18765",
		"ALCHEMY_HOME=/tmp/elsewhere",
		"BROWSER=curl",
		"CI=1",
		"HTTPS_PROXY=http://127.0.0.1:18765",
	}, "\n")+"\n"), 0o600)
	t.Setenv("CLOUDFLARE_API_TOKEN", "shell-token")
	for _, k := range []string{"ALCHEMY_PROFILE", "CLOUDFLARE_OAUTH_TOKEN_URL", "CLOUDFLARE_BASE_URL", "GITHUB_API_URL",
		"AWS_ENDPOINT_URL_STS", "ALCHEMY_HOME", "BROWSER", "CI", "HTTPS_PROXY"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	e, err := Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	if v := Get(e, "CLOUDFLARE_API_TOKEN"); v != "shell-token" {
		t.Errorf("CLOUDFLARE_API_TOKEN = %q: the shell's value must win over the file's", v)
	}
	if v := Get(e, "ALCHEMY_PROFILE"); v != "fromfile" || !e.FromFile("ALCHEMY_PROFILE") {
		t.Errorf("ALCHEMY_PROFILE = %q: an unprotected key the shell does not set comes from the file", v)
	}
	for _, k := range []string{"CLOUDFLARE_OAUTH_TOKEN_URL", "CLOUDFLARE_BASE_URL", "GITHUB_API_URL", "AWS_ENDPOINT_URL_STS", "ALCHEMY_HOME", "BROWSER", "CI", "HTTPS_PROXY"} {
		if v, ok := e.Lookup(k); ok {
			t.Errorf("%s = %q was taken from the project file", k, v)
		}
	}
	w := e.IgnoredWarning()
	for _, want := range []string{".env sets ALCHEMY_HOME, AWS_ENDPOINT_URL_STS, BROWSER, CI, CLOUDFLARE_BASE_URL, CLOUDFLARE_OAUTH_TOKEN_URL, GITHUB_API_URL, HTTPS_PROXY", "ignored", "export them"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q lacks %q", w, want)
		}
	}
	// The shell may still set a protected key.
	t.Setenv("CLOUDFLARE_BASE_URL", "http://127.0.0.1:9")
	if v := Get(e, "CLOUDFLARE_BASE_URL"); v != "http://127.0.0.1:9" {
		t.Errorf("CLOUDFLARE_BASE_URL from the shell = %q", v)
	}
}

func TestProtected(t *testing.T) {
	for k, want := range map[string]bool{
		"CLOUDFLARE_BASE_URL": true, "GITHUB_API_URL": true, "CLOUDFLARE_OAUTH_REVOKE_URL": true, "AWS_ENDPOINT_URL": true,
		"AWS_ENDPOINT_URL_S3": true, "ALCHEMY_HOME": true, "aws_config_file": true, "CI": true, "BROWSER": true,
		"ALCHEMY_STATE": true, "ALCHEMY_PROFILE": false, "CLOUDFLARE_API_TOKEN": false, "AWS_REGION": false, "AWS_PROFILE": false, "ALCHEMY_PASSWORD": false,
	} {
		if Protected(k) != want {
			t.Errorf("Protected(%q) = %v", k, !want)
		}
	}
}

func TestLayers(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("BOTH=file\nFILE=file\nEMPTY=\nCLOUDFLARE_BASE_URL=http://127.0.0.1:1\n"), 0o600)
	t.Setenv("BOTH", "shell")
	t.Setenv("SHELL_ONLY", "shell")
	t.Setenv("FILE", "")
	t.Setenv("CLOUDFLARE_BASE_URL", "")
	e, err := Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]Layers{
		"BOTH":                {Key: "BOTH", Process: "shell", File: "file", InFile: true},
		"SHELL_ONLY":          {Key: "SHELL_ONLY", Process: "shell"},
		"FILE":                {Key: "FILE", File: "file", InFile: true},
		"EMPTY":               {Key: "EMPTY", InFile: true},
		"CLOUDFLARE_BASE_URL": {Key: "CLOUDFLARE_BASE_URL", File: "http://127.0.0.1:1", InFile: true, Protected: true},
	} {
		got := e.Layers(key)
		if got != want {
			t.Errorf("Layers(%s) = %+v, want %+v", key, got, want)
		}
		// The layer a value comes from agrees with Lookup.
		v, _ := e.Lookup(key)
		switch {
		case got.FromProcess() && v != got.Process, got.FromFile() && v != got.File, !got.FromProcess() && !got.FromFile() && v != "":
			t.Errorf("%s: Lookup = %q, but Layers says process %v, file %v", key, v, got.FromProcess(), got.FromFile())
		}
	}
}
