package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/display"
	"github.com/alchemy-go/alchemy/internal/profile"
)

// View is what `profile show` knows about one provider of a profile.
type View struct {
	Provider string
	Method   string
	// Known is false for a provider this build does not have; its entry is
	// then shown field by field.
	Known   bool
	Entry   profile.Entry
	Creds   Credentials
	Err     error
	Fields  []Field
	Expires time.Time
}

// Describe resolves every provider of p, concurrently, and returns the views
// sorted by provider name. Failures are recorded per provider, never fatal.
func Describe(ctx context.Context, c *Context, reg *Registry, p profile.Profile) []View {
	names := p.Providers()
	views := make([]View, len(names))
	now := c.Now()
	var wg sync.WaitGroup
	for i, name := range names {
		views[i] = View{Provider: name, Entry: p[name], Method: p[name].Method()}
		prov, err := reg.Get(name)
		if err != nil || prov.Name() != name {
			continue
		}
		views[i].Known = true
		wg.Add(1)
		go func(v *View) {
			defer wg.Done()
			v.Creds, v.Err = Read(ctx, c, prov, v.Entry)
			if v.Err == nil {
				v.Fields = v.Creds.Fields(now)
				v.Expires, _ = v.Creds.Expires()
			}
		}(&views[i])
	}
	wg.Wait()
	return views
}

// RenderText prints a profile the way the TypeScript tool's printProfile
// does: a header, then one "── Provider ──" block per provider. Resolution
// failures go to errOut and do not stop the listing.
func RenderText(out, errOut io.Writer, name string, views []View) {
	fmt.Fprintf(out, "Profile: %s\n", display.Safe(name))
	if len(views) == 0 {
		fmt.Fprintln(out, "(no providers configured)")
		return
	}
	for _, v := range views {
		fmt.Fprintf(out, "\n── %s ──\n", display.Safe(v.Provider))
		switch {
		case !v.Known:
			for _, f := range fallbackFields(v.Entry) {
				fmt.Fprintf(out, "  %s: %s\n", display.Safe(f.Key), display.Safe(f.Value))
			}
		case v.Err != nil:
			fmt.Fprintf(errOut, "  Failed to retrieve credentials: %s\n", display.Safe(v.Err.Error()))
		default:
			for _, f := range v.Fields {
				fmt.Fprintf(out, "  %-*s %s\n", f.Width, f.Key+":", display.Safe(f.Value))
			}
			fmt.Fprintf(out, "  source: %s\n", v.Creds.Source())
		}
	}
}

// fallbackFields shows an entry of an unknown provider: the method first,
// then every other field, strings raw and the rest as JSON. profiles.json
// holds no secrets, so nothing here needs redacting.
func fallbackFields(e profile.Entry) []Field {
	fields := []Field{{Key: "method", Value: e.Method()}}
	keys := make([]string, 0, len(e))
	for k := range e {
		if k != "method" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var s string
		if json.Unmarshal(e[k], &s) != nil {
			s = string(e[k])
		}
		fields = append(fields, Field{Key: k, Value: s})
	}
	return fields
}

// JSONProvider is one provider in `profile show --json`. Values are redacted
// exactly as in the text form.
type JSONProvider struct {
	Provider string            `json:"provider"`
	Method   string            `json:"method"`
	Known    bool              `json:"known"`
	Fields   map[string]string `json:"fields,omitempty"`
	Source   string            `json:"source,omitempty"`
	Expires  string            `json:"expires,omitempty"`
	Expired  *bool             `json:"expired,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// JSONViews converts views for --json.
func JSONViews(views []View, now time.Time) []JSONProvider {
	out := make([]JSONProvider, 0, len(views))
	for _, v := range views {
		j := JSONProvider{Provider: v.Provider, Method: v.Method, Known: v.Known, Fields: map[string]string{}}
		switch {
		case !v.Known:
			for _, f := range fallbackFields(v.Entry)[1:] {
				j.Fields[f.Key] = f.Value
			}
		case v.Err != nil:
			j.Error = v.Err.Error()
		default:
			for _, f := range v.Fields {
				if f.Key != "expires" {
					j.Fields[f.Key] = strings.TrimSpace(f.Value)
				}
			}
			j.Source = v.Creds.Source().String()
			if !v.Expires.IsZero() {
				j.Expires = display.ISO(v.Expires)
				expired := !v.Expires.After(now)
				j.Expired = &expired
			}
		}
		out = append(out, j)
	}
	return out
}
