//go:build !unix

package cli

import "os"

// newNeeds makes the file through which a stack program says what it was
// built without (needFeature), named by its path: os/exec passes no extra
// descriptors here. A process killed outright leaves it in $TMPDIR.
func newNeeds() (*needsFile, error) {
	f, err := os.CreateTemp("", "alchemy-needs-*")
	if err != nil {
		return nil, err
	}
	return &needsFile{f: f, env: stackNeedsEnv + "=" + f.Name(), path: f.Name()}, nil
}

// programNeeds: a program here writes to the path it is given.
var programNeeds *os.File
