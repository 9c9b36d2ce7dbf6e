//go:build !unix

package atomicfile

import "os"

// writeTemp creates a new file named prefix and a random suffix in dir,
// with mode perm, writes data to it (and syncs it when durable) and closes
// it; it returns the file's path. On error the file is gone.
func writeTemp(dir, prefix string, data []byte, perm os.FileMode, durable bool) (name string, err error) {
	tmp, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return "", err
	}
	if _, err = tmp.Write(data); err != nil {
		return "", err
	}
	if durable {
		if err = tmp.Sync(); err != nil {
			return "", err
		}
	}
	if err = tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}

func rename(from, to string) error { return os.Rename(from, to) }
