package lock

// ProcessDead reports whether process pid is certainly gone from this host
// (a zombie counts as gone); false where that cannot be told. Lease holders
// of the state backends use it too: a dead holder on this host is taken
// over at once instead of after its TTL.
func ProcessDead(pid int) bool { return pid > 0 && processDead(pid) }
