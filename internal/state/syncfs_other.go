//go:build !linux

package state

const haveSyncfs = false

func syncFS(dir string) error { return syncDir(dir) }
