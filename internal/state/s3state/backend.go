package s3state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/alchemy-go/alchemy/internal/aws/awsapi"
	"github.com/alchemy-go/alchemy/internal/lock"
	"github.com/alchemy-go/alchemy/internal/state"
)

// Options tunes a Backend; zero fields take the defaults.
type Options struct {
	// InlineLimit is how many bytes of changes head.json carries before
	// they move into a segment object; default 64 KiB.
	InlineLimit int
	// UnleasedWait is how long a write without a lease (the Store methods
	// of the Backend itself) waits for the stage's lease; default 30 s.
	UnleasedWait time.Duration
	// Concurrency bounds the requests run at once by listings and loads;
	// default 16.
	Concurrency int
}

// Backend is the S3 state store. It is safe for concurrent use.
type Backend struct {
	loc    Location
	client *awsapi.S3
	opts   Options

	views    sync.Map // stage prefix -> *view
	writeMus sync.Map // stage prefix -> *sync.Mutex (unleased writes)

	condMu      sync.Mutex
	condChecked bool // the service rejected a failing conditional write

	hostname string

	// afterPut, when set (tests), is called after every successful PUT.
	afterPut func(key string)
}

var (
	_ state.Backend = (*Backend)(nil)
	_ state.Flusher = (*Backend)(nil)
)

// Open returns the store at loc, signing with cfg's credentials. It makes
// no request: a missing bucket or wrong credentials show at the first
// operation. The endpoint is loc.Endpoint, else cfg.BaseEndpoint
// (path-style), else AWS's; the region loc.Region, else cfg.Region.
func Open(ctx context.Context, loc Location, cfg aws.Config, opts Options) (*Backend, error) {
	if loc.Bucket == "" {
		return nil, errors.New("S3 state: no bucket")
	}
	if opts.InlineLimit <= 0 {
		opts.InlineLimit = 64 << 10
	}
	if opts.UnleasedWait <= 0 {
		opts.UnleasedWait = 30 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	endpoint, pathStyle := loc.Endpoint, loc.PathStyle
	if endpoint == "" && aws.ToString(cfg.BaseEndpoint) != "" {
		// An endpoint override from the environment: an S3-compatible
		// service or a test peer, addressed path-style.
		endpoint, pathStyle = aws.ToString(cfg.BaseEndpoint), true
	}
	region := loc.Region
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		return nil, fmt.Errorf("S3 state %s: no region: add ?region=<the bucket's region> to the state URL, or set the profile's AWS region", loc.Describe())
	}
	b := &Backend{loc: loc, opts: opts}
	b.hostname, _ = os.Hostname()
	// alchemy's own small S3 client, not the SDK's: linking the SDK's
	// adds ~1 ms of package init and 8 MB to every command
	// (docs/PERFORMANCE.md). It sends no checksums beyond what S3 requires
	// (Content-MD5 of a multi-object delete), which every S3-compatible
	// service accepts.
	hc, _ := cfg.HTTPClient.(*http.Client)
	b.client = awsapi.NewS3(awsapi.Config{Region: region, Endpoint: endpoint, HTTP: hc}, cfg.Credentials, pathStyle)
	return b, nil
}

// Location is where the store lives.
func (b *Backend) Location() Location { return b.loc }

// Describe is s3://bucket/prefix, and the profile whose keys sign when the
// URL names one: never a key.
func (b *Backend) Describe() string {
	if b.loc.Profile != "" {
		return b.loc.Describe() + " (profile " + b.loc.Profile + ")"
	}
	return b.loc.Describe()
}

// Close releases nothing: the client holds only idle connections.
func (b *Backend) Close() error { return nil }

// Flush has nothing to do: every write without a lease is committed and
// its lease released before it returns.
func (b *Backend) Flush(context.Context) error { return nil }

// Keys of a stage, under P = prefix + stack + "/" + stage + "/". No key is
// both an object and the prefix of others (posix-backed services refuse
// that).
const (
	leaseName = "lease.json"
	headName  = "head.json"
	snapDir   = "snap/"
	segDir    = "seg/"
)

func (b *Backend) stagePrefix(stack, stage string) (string, error) {
	if err := state.ValidateSegment("stack", stack); err != nil {
		return "", err
	}
	if err := state.ValidateSegment("stage", stage); err != nil {
		return "", err
	}
	return b.loc.Prefix + stack + "/" + stage + "/", nil
}

// where names a stage's object for messages.
func (b *Backend) where(p, name string) string { return "s3://" + b.loc.Bucket + "/" + p + name }

// readHead returns a stage's head and its ETag; nil when the stage has
// none. ifNoneMatch makes an unchanged head come back as errNotModified.
func (b *Backend) readHead(ctx context.Context, p, ifNoneMatch string) (*headDoc, string, error) {
	o, err := b.get(ctx, p+headName, ifNoneMatch)
	if errors.Is(err, errNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var h headDoc
	if err := decode(o.body, &h, func() int { return h.V }); err != nil {
		return nil, "", fmt.Errorf("S3 state: %s is unusable: %v. Nothing was changed", b.where(p, headName), err)
	}
	return &h, o.etag, nil
}

// errMoved marks an object a head pointed at that is gone: the head moved
// on (its writer folded it away) since it was read; read the head again.
var errMoved = errors.New("the stage's head moved on")

// loadDelta reads a snapshot or segment.
func (b *Backend) loadDelta(ctx context.Context, p string, r ref) (*delta, error) {
	o, err := b.get(ctx, p+r.Key, "")
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("%w: %s, which the head points at, is gone", errMoved, b.where(p, r.Key))
	}
	if err != nil {
		return nil, err
	}
	var d delta
	if err := decode(o.body, &d, func() int { return d.V }); err != nil {
		return nil, fmt.Errorf("S3 state: %s is unusable: %v. Nothing was changed", b.where(p, r.Key), err)
	}
	return &d, nil
}

// materialize builds the state h describes, reading its snapshot and
// segments at once; cache holds deltas already read (immutable objects,
// by key) and gets the ones read now.
func (b *Backend) materialize(ctx context.Context, p string, h *headDoc, cache map[string]*delta) (*stageState, error) {
	refs := make([]ref, 0, len(h.Segments)+1)
	if h.Snapshot != nil {
		refs = append(refs, *h.Snapshot)
	}
	refs = append(refs, h.Segments...)
	ds := make([]*delta, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, b.opts.Concurrency)
	for i, r := range refs {
		if d, ok := cache[r.Key]; ok {
			ds[i] = d
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ds[i], errs[i] = b.loadDelta(ctx, p, r)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if errors.Is(err, errMoved) {
			return nil, err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	st := newStageState()
	for i, d := range ds {
		st.apply(d)
		if cache != nil {
			cache[refs[i].Key] = d
		}
	}
	st.apply(h.Changes)
	return st, nil
}

// view is what this Backend last read of a stage, for reads without a
// lease. A read always asks S3 whether the head changed (a conditional
// GET), so it sees every commit that returned before it started;
// concurrent reads share one such request.
type view struct {
	mu       sync.Mutex
	inflight *flight
	queued   *flight // starts when inflight ends; reads arriving meanwhile join it

	etag  string
	st    *stageState
	cache map[string]*delta
}

type flight struct {
	done chan struct{}
	st   *stageState
	err  error
}

func (b *Backend) view(p string) *view {
	v, _ := b.views.LoadOrStore(p, &view{})
	return v.(*view)
}

// current returns the stage's state as of a moment after the call began.
func (b *Backend) current(ctx context.Context, p string) (*stageState, error) {
	v := b.view(p)
	v.mu.Lock()
	var f *flight
	switch {
	case v.inflight == nil:
		f = &flight{done: make(chan struct{})}
		v.inflight = f
		go b.refresh(context.WithoutCancel(ctx), p, v, f)
	case v.queued == nil:
		f = &flight{done: make(chan struct{})}
		v.queued = f
	default:
		f = v.queued
	}
	v.mu.Unlock()
	select {
	case <-f.done:
		return f.st, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *Backend) refresh(ctx context.Context, p string, v *view, f *flight) {
	for f != nil {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		f.st, f.err = b.reload(rctx, p, v)
		cancel()
		close(f.done)
		v.mu.Lock()
		v.inflight, v.queued = v.queued, nil
		f = v.inflight
		v.mu.Unlock()
	}
}

// reload reads the head, and what it points at when it changed.
func (b *Backend) reload(ctx context.Context, p string, v *view) (*stageState, error) {
	for attempt := 0; ; attempt++ {
		h, etag, err := b.readHead(ctx, p, v.etag)
		if errors.Is(err, errNotModified) {
			return v.st, nil
		}
		if err != nil {
			return nil, err
		}
		if h == nil {
			v.etag, v.st, v.cache = "", newStageState(), nil
			return v.st, nil
		}
		cache := map[string]*delta{}
		for _, k := range h.refs() {
			if d, ok := v.cache[k]; ok {
				cache[k] = d
			}
		}
		st, err := b.materialize(ctx, p, h, cache)
		if errors.Is(err, errMoved) {
			if attempt < 5 {
				continue
			}
			return nil, fmt.Errorf("S3 state: %v (read 6 times). Something other than alchemy deleted it: restore it from the bucket's versions if it has them", err)
		}
		if err != nil {
			return nil, err
		}
		v.etag, v.st, v.cache = etag, st, cache
		return st, nil
	}
}

func (b *Backend) read(ctx context.Context, stack, stage string) (*stageState, error) {
	p, err := b.stagePrefix(stack, stage)
	if err != nil {
		return nil, err
	}
	return b.current(ctx, p)
}

// List returns the FQNs of a stage's rows, sorted.
func (b *Backend) List(ctx context.Context, stack, stage string) ([]string, error) {
	st, err := b.read(ctx, stack, stage)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(mapsKeys(st.rows)), nil
}

// Get returns a row, or nil, nil when there is none.
func (b *Backend) Get(ctx context.Context, stack, stage, fqn string) (*state.Row, error) {
	st, err := b.read(ctx, stack, stage)
	if err != nil {
		return nil, err
	}
	return b.parseRow(stack, stage, fqn, st.rows[fqn])
}

// GetAll reads every row of a stage at once (one conditional GET of the
// head when nothing changed): state.BulkReader, for state.LoadAll.
func (b *Backend) GetAll(ctx context.Context, stack, stage string) (map[string]*state.Row, error) {
	st, err := b.read(ctx, stack, stage)
	if err != nil {
		return nil, err
	}
	return b.parseAll(stack, stage, st)
}

func (b *Backend) parseAll(stack, stage string, st *stageState) (map[string]*state.Row, error) {
	out := make(map[string]*state.Row, len(st.rows))
	for fqn, raw := range st.rows {
		row, err := b.parseRow(stack, stage, fqn, raw)
		if err != nil {
			return nil, err
		}
		out[fqn] = row
	}
	return out, nil
}

func (b *Backend) parseRow(stack, stage, fqn string, raw json.RawMessage) (*state.Row, error) {
	if raw == nil {
		return nil, nil
	}
	var row state.Row
	err := json.Unmarshal(raw, &row)
	if err == nil {
		err = row.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("state row %s of %s/%s in %s is not a valid state row: %v. Nothing was changed. "+
			"Forget the resource with `alchemy state delete %s/%s/%s --yes` (its cloud resource, if any, is then left as it is)",
			fqn, stack, stage, b.Describe(), err, stack, stage, fqn)
	}
	return &row, nil
}

// GetOutput returns the stage's stack-output record, nil when absent.
func (b *Backend) GetOutput(ctx context.Context, stack, stage string) (json.RawMessage, error) {
	st, err := b.read(ctx, stack, stage)
	if err != nil {
		return nil, err
	}
	return slices.Clone(st.output), nil
}

// Writes without a lease take the stage's lease for the write (waiting
// up to Options.UnleasedWait for a holder to finish), commit through it and
// release it: they never race a deploy, and a stale holder cannot undo
// them. A stage leased by a live holder is a *state.HeldError.
func (b *Backend) withLease(ctx context.Context, stack, stage string, f func(state.Store) error) error {
	p, err := b.stagePrefix(stack, stage)
	if err != nil {
		return err
	}
	mu, _ := b.writeMus.LoadOrStore(p, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	l, err := b.Acquire(ctx, stack, stage, state.LeaseOptions{Command: "alchemy state (a write without a deploy)", Wait: b.opts.UnleasedWait})
	if err != nil {
		return err
	}
	err = f(l.Store())
	if rerr := l.Release(); err == nil {
		err = rerr
	}
	return err
}

// Set creates or replaces a row under a short lease of its own.
func (b *Backend) Set(ctx context.Context, stack, stage string, row *state.Row) error {
	return b.withLease(ctx, stack, stage, func(s state.Store) error { return s.Set(ctx, stack, stage, row) })
}

// Delete removes a row under a short lease of its own.
func (b *Backend) Delete(ctx context.Context, stack, stage, fqn string) error {
	return b.withLease(ctx, stack, stage, func(s state.Store) error { return s.Delete(ctx, stack, stage, fqn) })
}

// SetOutput replaces the stack output under a short lease of its own.
func (b *Backend) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	return b.withLease(ctx, stack, stage, func(s state.Store) error { return s.SetOutput(ctx, stack, stage, out) })
}

// DeleteStage removes a stage's state, its objects and its lease, under a
// short lease of its own.
func (b *Backend) DeleteStage(ctx context.Context, stack, stage string) error {
	return b.withLease(ctx, stack, stage, func(s state.Store) error { return s.DeleteStage(ctx, stack, stage) })
}

// Stages returns a stack's stages that have state, sorted. A stage whose
// prefix holds only a lease, or a head with no rows and no output, has
// none.
func (b *Backend) Stages(ctx context.Context, stack string) ([]string, error) {
	if err := state.ValidateSegment("stack", stack); err != nil {
		return nil, err
	}
	names, err := b.listDirs(ctx, b.loc.Prefix+stack+"/")
	if err != nil {
		return nil, err
	}
	keep := make([]bool, len(names))
	err = b.each(ctx, len(names), func(ctx context.Context, i int) error {
		if state.ValidateSegment("stage", names[i]) != nil {
			return nil
		}
		h, _, err := b.readHead(ctx, b.loc.Prefix+stack+"/"+names[i]+"/", "")
		keep[i] = err == nil && h != nil && !h.empty()
		return err
	})
	if err != nil {
		return nil, err
	}
	return kept(names, keep), nil
}

// Stacks returns the stacks with at least one stage with state, sorted.
func (b *Backend) Stacks(ctx context.Context) ([]string, error) {
	names, err := b.listDirs(ctx, b.loc.Prefix)
	if err != nil {
		return nil, err
	}
	keep := make([]bool, len(names))
	err = b.each(ctx, len(names), func(ctx context.Context, i int) error {
		if state.ValidateSegment("stack", names[i]) != nil {
			return nil
		}
		stages, err := b.Stages(ctx, names[i])
		keep[i] = len(stages) > 0
		return err
	})
	if err != nil {
		return nil, err
	}
	return kept(names, keep), nil
}

// kept is the names whose keep is set, sorted.
func kept(names []string, keep []bool) []string {
	var out []string
	for i, n := range names {
		if keep[i] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// each runs f for 0..n-1, Concurrency at a time, and returns the first
// error.
func (b *Backend) each(ctx context.Context, n int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, b.opts.Concurrency)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			if err := f(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// leaseObs is a lease as read, with what the reader concluded.
type leaseObs struct {
	doc  *leaseDoc
	etag string
	// age is how long ago, by the server's clock, the lease was last
	// written (Date minus Last-Modified); -1 when the server gave no Date.
	age time.Duration
	// deadHere: the holder is a process of this host that no longer runs.
	deadHere bool
}

func (b *Backend) readLease(ctx context.Context, p string) (*leaseObs, error) {
	o, err := b.get(ctx, p+leaseName, "")
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d leaseDoc
	if err := decode(o.body, &d, func() int { return d.V }); err != nil {
		return nil, fmt.Errorf("S3 state: the lease %s is unusable: %v. Break it with `alchemy state unlock`", b.where(p, leaseName), err)
	}
	obs := &leaseObs{doc: &d, etag: o.etag, age: -1}
	if !o.date.IsZero() && !o.lastModified.IsZero() {
		obs.age = o.date.Sub(o.lastModified)
	}
	obs.deadHere = !d.Released && d.Host != "" && d.Host == b.hostname && d.PID > 0 && lock.ProcessDead(d.PID)
	return obs, nil
}

// expired reports whether the lease outlived its TTL by the server's
// clock. Last-Modified and Date have a resolution of a second, so one
// second is added: a lease is never taken early.
func (o *leaseObs) expired() bool {
	return o.age >= 0 && o.age >= o.doc.ttl()+time.Second
}

// free reports whether Acquire may take the lease now.
func (o *leaseObs) free() bool { return o.doc.Released || o.expired() || o.deadHere }

func (b *Backend) info(stack, stage string, o *leaseObs) state.LeaseInfo {
	d := o.doc
	i := state.LeaseInfo{Stack: stack, Stage: stage, User: d.User, Host: d.Host, PID: d.PID, Command: d.Command,
		Started: d.Started, Renewed: d.Renewed, Token: d.token()}
	i.Expires = d.Renewed.Add(d.ttl())
	if o.age >= 0 {
		// In this machine's clock, from the server's: no skew.
		i.Renewed = time.Now().Add(-o.age).Truncate(time.Second)
		i.Expires = i.Renewed.Add(d.ttl() + time.Second)
	}
	i.Stale = o.expired() || o.deadHere
	return i
}

// Leases lists the held (or stale) leases of every stage, sorted by stack
// then stage.
func (b *Backend) Leases(ctx context.Context) ([]state.LeaseInfo, error) {
	stacks, err := b.listDirs(ctx, b.loc.Prefix)
	if err != nil {
		return nil, err
	}
	type ss struct{ stack, stage string }
	var stages []ss
	var mu sync.Mutex
	err = b.each(ctx, len(stacks), func(ctx context.Context, i int) error {
		if state.ValidateSegment("stack", stacks[i]) != nil {
			return nil
		}
		names, err := b.listDirs(ctx, b.loc.Prefix+stacks[i]+"/")
		mu.Lock()
		for _, n := range names {
			if state.ValidateSegment("stage", n) == nil {
				stages = append(stages, ss{stacks[i], n})
			}
		}
		mu.Unlock()
		return err
	})
	if err != nil {
		return nil, err
	}
	infos := make([]*state.LeaseInfo, len(stages))
	err = b.each(ctx, len(stages), func(ctx context.Context, i int) error {
		o, err := b.readLease(ctx, b.loc.Prefix+stages[i].stack+"/"+stages[i].stage+"/")
		if err != nil || o == nil || o.doc.Released {
			return err
		}
		info := b.info(stages[i].stack, stages[i].stage, o)
		infos[i] = &info
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []state.LeaseInfo
	for _, i := range infos {
		if i != nil {
			out = append(out, *i)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stack != out[j].Stack {
			return out[i].Stack < out[j].Stack
		}
		return out[i].Stage < out[j].Stage
	})
	return out, nil
}

// Break ends the lease of stack/stage if its token is still token: it is
// marked released (a conditional PUT), so the next Acquire takes it at once
// and cuts the old holder off (its next commit fails).
func (b *Backend) Break(ctx context.Context, stack, stage, token string) error {
	p, err := b.stagePrefix(stack, stage)
	if err != nil {
		return err
	}
	for attempt := 0; attempt < 10; attempt++ {
		o, err := b.readLease(ctx, p)
		if err != nil {
			return err
		}
		if o == nil || o.doc.Released {
			return nil
		}
		if o.doc.token() != token {
			return &state.HeldError{Info: b.info(stack, stage, o)}
		}
		d := *o.doc
		d.Released = true
		d.Renewals++
		me := state.ThisProcess()
		d.BrokenBy = fmt.Sprintf("%s@%s (pid %d)", me.User, me.Host, me.PID)
		body, err := marshal(&d)
		if err != nil {
			return err
		}
		_, err = b.put(ctx, p+leaseName, body, cond{ifMatch: o.etag})
		if errors.Is(err, errPrecondition) || errors.Is(err, errNotFound) {
			continue // renewed or changed hands meanwhile: look again
		}
		return err
	}
	return fmt.Errorf("S3 state: the lease of %s/%s kept changing while breaking it; try again", stack, stage)
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// errNoConditionalWrites is the refusal of a service that accepts a
// conditional write that must fail.
func (b *Backend) errNoConditionalWrites(header string) error {
	return fmt.Errorf("%s: this S3 service ignores conditional writes (%s); alchemy cannot lease state on it safely. "+
		"Use AWS S3 or an S3-compatible service that implements PutObject with If-None-Match and If-Match (Cloudflare R2 does)",
		b.Describe(), header)
}

// checkConditionalWrites proves once per Backend, right after a lease PUT
// that returned etag, that the service rejects conditional writes that
// must fail: the same body again with If-None-Match: * (the key exists
// now), then with an If-Match that matches nothing. A service that takes
// either would let two holders in.
func (b *Backend) checkConditionalWrites(ctx context.Context, key string, body []byte) error {
	b.condMu.Lock()
	defer b.condMu.Unlock()
	if b.condChecked {
		return nil
	}
	_, err := b.put(ctx, key, body, cond{ifAbsent: true})
	if err == nil {
		return b.errNoConditionalWrites("If-None-Match")
	}
	if !errors.Is(err, errPrecondition) {
		return err
	}
	_, err = b.put(ctx, key, body, cond{ifMatch: `"00000000000000000000000000000000"`})
	if err == nil {
		return b.errNoConditionalWrites("If-Match")
	}
	if !errors.Is(err, errPrecondition) {
		return err
	}
	b.condChecked = true
	return nil
}

// sweepable reports whether key (relative to a stage prefix) is one of the
// immutable objects the store writes.
func sweepable(key string) bool {
	return (strings.HasPrefix(key, snapDir) || strings.HasPrefix(key, segDir)) && strings.HasSuffix(key, ".json")
}
