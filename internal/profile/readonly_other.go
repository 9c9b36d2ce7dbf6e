//go:build !unix

package profile

func isReadOnly(error) bool { return false }
