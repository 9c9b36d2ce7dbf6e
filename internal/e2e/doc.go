// Package e2e tests the alchemy binary end to end, as a user runs it: the
// real `alchemy` executable (built once per test run) building real stack
// files with the repository's go.mod, deploying them in temporary working
// directories, on pipes and on pseudo-terminals, and being killed and
// interrupted mid-deploy. Every test lives in the _test.go files; the stack
// files it runs are under testdata/.
package e2e
