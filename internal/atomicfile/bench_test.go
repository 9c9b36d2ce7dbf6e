package atomicfile

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkReplace replaces one of 1,000 files of ~600 bytes in a
// directory, as a deploy writes its state rows (Replace: no fsync). Run it
// on tmpfs to see the system calls rather than the disk:
//
//	TMPDIR=/dev/shm go test -run '^$' -bench Replace -benchmem ./internal/atomicfile/
func BenchmarkReplace(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 600)
	for i := range data {
		data[i] = 'x'
	}
	i := 0
	for b.Loop() {
		if err := Replace(filepath.Join(dir, fmt.Sprintf("row%04d.json", i%1000)), data, 0o600); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
