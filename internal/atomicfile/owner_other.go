//go:build !unix

package atomicfile

import "os"

func ownerOf(os.FileInfo) (int, bool) { return 0, false }

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
