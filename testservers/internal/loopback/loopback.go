// Package loopback starts the test servers' listeners: on a loopback IP
// only, since tests must never open a port others can reach.
package loopback

import (
	"fmt"
	"net"
	"os"
)

// Listen listens on addr, which must be a loopback IP and port, and prints
// "<name> listening on http://ADDR" on stdout for whoever started us. On
// an error it exits: 2 for a bad address, 1 otherwise.
func Listen(name, addr string) (l net.Listener, baseURL string) {
	if host, _, err := net.SplitHostPort(addr); err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(os.Stderr, "%s: -addr %s is not a loopback IP address and port\n", name, addr)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	baseURL = "http://" + l.Addr().String()
	fmt.Printf("%s listening on %s\n", name, baseURL)
	return l, baseURL
}
