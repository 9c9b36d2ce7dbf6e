// Package local has resources that live on this machine and need no cloud
// account: a file and a random string. They are real resources with the
// full lifecycle, so a stack of them exercises everything the engine does.
package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/internal/atomicfile"
)

func init() {
	alchemy.Register[FileArgs, FileAttrs](fileProvider{})
	alchemy.Register[RandomStringArgs, RandomStringAttrs](randomProvider{})
}

// FileProps declares a file.
type FileProps struct {
	// Path of the file, relative to the stack file's directory. Default:
	// .alchemy/files/<stack>-<id>-<stage>-<suffix>.txt, unique per stage.
	// A file that already exists at an explicit path is not overwritten
	// unless deploy --adopt says so.
	Path alchemy.Input[string] `json:"path"`
	// Content is written to the file.
	Content alchemy.Input[string] `json:"content"`
}

// FileArgs are a file's resolved props.
type FileArgs struct {
	Path    string `json:"path,omitempty"`
	Content string `json:"content"`
}

// FileAttrs are what a deployed file publishes.
type FileAttrs struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// File is a declared file.
type File struct {
	*alchemy.Resource
	Path   alchemy.Output[string]
	SHA256 alchemy.Output[string]
}

// NewFile declares a file.
func NewFile(s *alchemy.Stack, id string, props FileProps, opts ...alchemy.Option) *File {
	r := alchemy.Declare[FileArgs, FileAttrs](s, fileProvider{}, id, props, opts...)
	return &File{Resource: r, Path: alchemy.Attr[string](r, "path"), SHA256: alchemy.Attr[string](r, "sha256")}
}

type fileProvider struct{}

func (fileProvider) Type() string        { return "Local.File" }
func (fileProvider) ReportsWrites() bool { return true } // its file, with Request.Wrote
func (fileProvider) ReplaceOn() []string { return []string{"path"} }

// path is the file's path as declared (relative to the stack file's
// directory), or the generated one.
func (p fileProvider) path(r *alchemy.Request[FileArgs, FileAttrs], args FileArgs) string {
	if args.Path != "" {
		return args.Path
	}
	return filepath.Join(".alchemy", "files", r.PhysicalName(0, false)+".txt")
}

func (p fileProvider) Name(r *alchemy.Request[FileArgs, FileAttrs]) string {
	return r.Path(p.path(r, r.Props))
}

func (fileProvider) Identity(a FileAttrs) string { return a.Path }

// Read finds the file at its path. A file at a path this resource generated
// is its own; one at an explicit path is not overwritten unless deploy
// --adopt says so.
func (p fileProvider) Read(_ context.Context, r *alchemy.Request[FileArgs, FileAttrs]) (*alchemy.Found[FileArgs, FileAttrs], error) {
	path := r.OldAttrs.Path
	if path == "" {
		path = p.path(r, r.Props)
	}
	data, err := os.ReadFile(r.Path(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	return &alchemy.Found[FileArgs, FileAttrs]{
		Attrs:     FileAttrs{Path: path, SHA256: hex.EncodeToString(sum[:]), Size: len(data)},
		Props:     &FileArgs{Path: r.Props.Path, Content: string(data)},
		Name:      "file " + path,
		Generated: r.Props.Path == "" && r.OldAttrs.Path == "",
	}, nil
}

func (p fileProvider) write(r *alchemy.Request[FileArgs, FileAttrs]) (FileAttrs, error) {
	rel := p.path(r, r.Props)
	path := r.Path(rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return FileAttrs{}, err
	}
	// Only this resource writes this path, so temp files next to it are
	// what a killed earlier run left.
	atomicfile.RemoveStaleTemps(path)
	// No fsync of its own: the state commit that records the file as
	// created follows and flushes it (see atomicfile.Replace).
	r.Wrote(path) // before: a write that fails half-way may have changed it
	if err := atomicfile.Replace(path, []byte(r.Props.Content), 0o644); err != nil {
		return FileAttrs{}, fmt.Errorf("writing %s: %w", path, err)
	}
	sum := sha256.Sum256([]byte(r.Props.Content))
	return FileAttrs{Path: rel, SHA256: hex.EncodeToString(sum[:]), Size: len(r.Props.Content)}, nil
}

func (p fileProvider) Create(_ context.Context, r *alchemy.Request[FileArgs, FileAttrs]) (FileAttrs, error) {
	return p.write(r)
}

func (p fileProvider) Update(_ context.Context, r *alchemy.Request[FileArgs, FileAttrs]) (FileAttrs, error) {
	return p.write(r)
}

func (p fileProvider) Delete(_ context.Context, r *alchemy.Request[FileArgs, FileAttrs]) error {
	path := r.OldAttrs.Path
	if path == "" {
		path = p.path(r, r.OldProps)
	}
	r.Wrote(r.Path(path))
	if err := os.Remove(r.Path(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// RandomStringProps declares a random string.
type RandomStringProps struct {
	// Length in characters; default 16.
	Length alchemy.Input[int] `json:"length"`
	// Charset to draw from; default letters and digits.
	Charset alchemy.Input[string] `json:"charset"`
}

// RandomStringArgs are a random string's resolved props.
type RandomStringArgs struct {
	Length  int    `json:"length,omitempty"`
	Charset string `json:"charset,omitempty"`
}

// RandomStringAttrs are what a random string publishes.
type RandomStringAttrs struct {
	Value string `json:"value"`
}

// RandomString is a declared random string. Its value stays the same from
// deploy to deploy until its props change.
type RandomString struct {
	*alchemy.Resource
	Value alchemy.Output[string]
}

// NewRandomString declares a random string.
func NewRandomString(s *alchemy.Stack, id string, props RandomStringProps, opts ...alchemy.Option) *RandomString {
	r := alchemy.Declare[RandomStringArgs, RandomStringAttrs](s, randomProvider{}, id, props, opts...)
	return &RandomString{Resource: r, Value: alchemy.Attr[string](r, "value")}
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

type randomProvider struct{}

func (randomProvider) Type() string        { return "Local.RandomString" }
func (randomProvider) ReportsWrites() bool { return true } // writes no local file
func (randomProvider) ReplaceOn() []string { return []string{"length", "charset"} }

func (randomProvider) Create(_ context.Context, r *alchemy.Request[RandomStringArgs, RandomStringAttrs]) (RandomStringAttrs, error) {
	n, charset := r.Props.Length, r.Props.Charset
	if n == 0 {
		n = 16
	}
	if charset == "" {
		charset = alnum
	}
	if n < 0 || n > 4096 {
		return RandomStringAttrs{}, fmt.Errorf("length %d is out of range: use 1 to 4096", n)
	}
	chars := []rune(charset)
	out := make([]rune, n)
	for i := range out {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			return RandomStringAttrs{}, err
		}
		out[i] = chars[k.Int64()]
	}
	return RandomStringAttrs{Value: string(out)}, nil
}

// Update never changes the value: every prop that matters replaces it.
func (randomProvider) Update(_ context.Context, r *alchemy.Request[RandomStringArgs, RandomStringAttrs]) (RandomStringAttrs, error) {
	return r.OldAttrs, nil
}

func (randomProvider) Delete(context.Context, *alchemy.Request[RandomStringArgs, RandomStringAttrs]) error {
	return nil
}

// SleepProps declares a pause, like Terraform's time_sleep: useful to wait
// for eventual consistency between two resources, and to measure the engine
// against a provider with known latency.
type SleepProps struct {
	// Create is how long creating (and updating) takes, e.g. "30s".
	Create alchemy.Input[string] `json:"create"`
	// Destroy is how long deleting takes.
	Destroy alchemy.Input[string] `json:"destroy"`
}

// SleepArgs are a sleep's resolved props.
type SleepArgs struct {
	Create  string `json:"create,omitempty"`
	Destroy string `json:"destroy,omitempty"`
}

// SleepAttrs are what a sleep publishes.
type SleepAttrs struct {
	Slept string `json:"slept"`
}

// Sleep is a declared pause.
type Sleep struct {
	*alchemy.Resource
}

// NewSleep declares a pause.
func NewSleep(s *alchemy.Stack, id string, props SleepProps, opts ...alchemy.Option) *Sleep {
	return &Sleep{alchemy.Declare[SleepArgs, SleepAttrs](s, sleepProvider{}, id, props, opts...)}
}

type sleepProvider struct{}

func init() { alchemy.Register[SleepArgs, SleepAttrs](sleepProvider{}) }

func (sleepProvider) Type() string        { return "Local.Sleep" }
func (sleepProvider) ReportsWrites() bool { return true } // writes no local file
func (sleepProvider) ReplaceOn() []string { return nil }

func pause(ctx context.Context, d string) (string, error) {
	if d == "" {
		return "0s", nil
	}
	dur, err := time.ParseDuration(d)
	if err != nil {
		return "", fmt.Errorf("invalid duration %q: use Go syntax such as 500ms or 2m", d)
	}
	select {
	case <-time.After(dur):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return dur.String(), nil
}

func (sleepProvider) Create(ctx context.Context, r *alchemy.Request[SleepArgs, SleepAttrs]) (SleepAttrs, error) {
	d, err := pause(ctx, r.Props.Create)
	return SleepAttrs{Slept: d}, err
}

func (p sleepProvider) Update(ctx context.Context, r *alchemy.Request[SleepArgs, SleepAttrs]) (SleepAttrs, error) {
	return p.Create(ctx, r)
}

func (sleepProvider) Delete(ctx context.Context, r *alchemy.Request[SleepArgs, SleepAttrs]) error {
	_, err := pause(ctx, r.OldProps.Destroy)
	return err
}
