package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/alchemy-go/alchemy/testservers/internal/loopback"
)

func main() {
	var o Options
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	flag.StringVar(&o.ClientID, "client-id", "", "the public client's id")
	flag.Func("redirect-uri", "a redirect URI the client may use (repeatable)", func(v string) error {
		o.RedirectURIs = append(o.RedirectURIs, v)
		return nil
	})
	flag.Func("scope", "a scope the client may request (repeatable)", func(v string) error {
		o.Scopes = append(o.Scopes, v)
		return nil
	})
	flag.DurationVar(&o.AccessTTL, "access-ttl", time.Hour, "access token lifetime")
	flag.StringVar(&o.Username, "username", "", "the login form's user")
	flag.StringVar(&o.Password, "password", "", "the login form's password")
	flag.Parse()
	if o.ClientID == "" || len(o.RedirectURIs) == 0 || len(o.Scopes) == 0 || o.Username == "" || o.Password == "" {
		fmt.Fprintln(os.Stderr, "oauthserver: -client-id, -redirect-uri, -scope, -username and -password are required")
		os.Exit(2)
	}
	l, url := loopback.Listen("oauthserver", *addr)
	_, h := newServer(o, url)
	fmt.Fprintln(os.Stderr, http.Serve(l, h))
	os.Exit(1)
}
