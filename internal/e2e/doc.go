// Package e2e tests the alchemy binary end to end, as a user runs it: the
// real `alchemy` executable (built once per test run) building real stack
// files, each copied with the files next to it into a project of its own (a
// temporary module whose go.mod replaces the SDK with this repository), where
// its state lives; deploying them from inside and outside the project, on
// pipes and on pseudo-terminals, against the AWS test peers and the
// Cloudflare fake, and being killed, stopped and interrupted mid-deploy.
// Every test lives in the _test.go files; the stack files it runs are under
// testdata/ and examples/, never run in place.
package e2e
