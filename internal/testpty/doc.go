// Package testpty drives a process on a pseudo-terminal for tests, as a
// person at a terminal would: it answers the terminal queries termenv
// (through lipgloss) sends, strips escape sequences from what the process
// writes, waits for text to appear in order, and types keys.
//
// It is a normal package only so that the tests of several packages
// (internal/cli, internal/e2e) can share one driver; nothing but tests
// imports it. It works on unix only.
package testpty
