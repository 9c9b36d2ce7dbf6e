package envfile

// Layers is one variable as each layer sets it, for explaining where a value
// came from (alchemy profile show --explain) rather than for using it: use
// Lookup for that.
type Layers struct {
	Key string
	// Process is the process environment's value; "" counts as unset, as
	// in Lookup.
	Process string
	// File is the dotenv file's value, and InFile whether the file sets the
	// key at all (used or not).
	File   string
	InFile bool
	// Protected keys are never taken from the file.
	Protected bool
}

// Layers returns key as the process environment and the dotenv file set it.
func (e *Env) Layers(key string) Layers {
	l := Layers{Key: key, Protected: Protected(key)}
	l.Process, _ = e.lookup(key)
	l.File, l.InFile = e.values[key]
	return l
}

// FromProcess reports whether Lookup answers key from the process
// environment.
func (l Layers) FromProcess() bool { return l.Process != "" }

// FromFile reports whether Lookup answers key from the dotenv file.
func (l Layers) FromFile() bool { return l.Process == "" && l.InFile && !l.Protected }
