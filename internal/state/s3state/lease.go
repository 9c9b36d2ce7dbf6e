package s3state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alchemy-go/alchemy/internal/state"
)

// Acquire takes the lease of stack/stage (see the package doc), then cuts
// the stage's head over to it and loads the stage's state into memory.
func (b *Backend) Acquire(ctx context.Context, stack, stage string, opts state.LeaseOptions) (state.Lease, error) {
	p, err := b.stagePrefix(stack, stage)
	if err != nil {
		return nil, err
	}
	ttl := opts.TTL
	if ttl <= 0 {
		ttl = state.DefaultTTL
	}
	hb := opts.Heartbeat
	if hb <= 0 {
		hb = ttl / 6
	}
	id := state.ThisProcess()
	if opts.Identity != nil {
		id = *opts.Identity
	}
	poll := min(max(ttl/8, 100*time.Millisecond), time.Second)
	start := time.Now()
	waited := false
	// A lease unchanged (same ETag) for its TTL by this machine's clock is
	// expired too: the fallback when the server sends no Date header.
	var seenEtag string
	var seenAt time.Time
	for {
		o, err := b.readLease(ctx, p)
		if err != nil {
			return nil, err
		}
		var c cond
		var epoch int64
		switch {
		case o == nil:
			// Epochs go on from the head's, if a deleted lease left one.
			h, _, err := b.readHead(ctx, p, "")
			if err != nil {
				return nil, err
			}
			epoch = 1
			if h != nil {
				epoch = max(epochOf(h.Token), 0) + 1
			}
			c = cond{ifAbsent: true}
		case o.free() || (o.etag == seenEtag && time.Since(seenAt) >= o.doc.ttl()+time.Second):
			epoch = o.doc.Epoch + 1
			c = cond{ifMatch: o.etag}
		default:
			if o.etag != seenEtag {
				seenEtag, seenAt = o.etag, time.Now()
			}
			info := b.info(stack, stage, o)
			waitedFor := time.Since(start)
			if waitedFor >= opts.Wait {
				held := &state.HeldError{Info: info}
				if waited {
					held.Waited = waitedFor
				}
				return nil, held
			}
			if !waited {
				waited = true
				if opts.OnWait != nil {
					opts.OnWait(info)
				}
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(min(poll, opts.Wait-waitedFor)):
			}
			continue
		}
		now := time.Now()
		doc := &leaseDoc{V: formatVersion, Epoch: epoch, Nonce: nonce(), User: id.User, Host: id.Host, PID: id.PID,
			Command: opts.Command, Started: now.UTC(), Renewed: now.UTC(), TTLMs: ttl.Milliseconds()}
		body, err := marshal(doc)
		if err != nil {
			return nil, err
		}
		etag, err := b.put(ctx, p+leaseName, body, c)
		if errors.Is(err, errPrecondition) || errors.Is(err, errNotFound) {
			// Someone else moved first: look again, after a short random
			// pause so racers do not stay in step.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(mrand.Int64N(int64(20 * time.Millisecond)))):
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		l := &lease{b: b, stack: stack, stage: stage, p: p, doc: doc, leaseEtag: etag, renewedAt: now,
			ttl: ttl, heartbeat: hb, lost: make(chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{})}
		l.idle = sync.NewCond(&l.mu)
		if err := b.checkConditionalWrites(ctx, p+leaseName, body); err != nil {
			_ = b.del(context.WithoutCancel(ctx), p+leaseName, etag)
			return nil, err
		}
		if err := l.cut(ctx); err != nil {
			l.giveBack(context.WithoutCancel(ctx))
			return nil, err
		}
		go l.beat()
		return l, nil
	}
}

func nonce() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// lease is a held stage lease, with the stage's state in memory: its
// Store reads from memory and commits by conditional PUTs of the head.
type lease struct {
	b            *Backend
	stack, stage string
	p            string
	ttl          time.Duration
	heartbeat    time.Duration

	// leaseMu serialises the PUTs of lease.json (heartbeat, Check,
	// Release).
	leaseMu   sync.Mutex
	doc       *leaseDoc
	leaseEtag string
	renewedAt time.Time // when the last successful renewal was sent

	lostOnce sync.Once
	lost     chan struct{}
	lostErr  error

	stop     chan struct{} // closed by Release: ends the heartbeat
	stopOnce sync.Once
	stopped  chan struct{} // closed when the heartbeat has ended

	// mu guards what the committer and the readers share.
	mu       sync.Mutex
	head     *headDoc
	headEtag string
	st       *stageState
	// pending is a head whose PUT failed without an answer: it may have
	// landed. The next commit finds out first.
	pending        *headDoc
	pendingState   *stageState
	pendingDropped []string
	// garbage are objects the head no longer points at, deleted at Flush
	// and Release.
	garbage  []string
	released bool
	queue    []*commitReq
	running  bool
	idle     *sync.Cond
}

func (l *lease) Info() state.LeaseInfo {
	l.leaseMu.Lock()
	defer l.leaseMu.Unlock()
	d := l.doc
	return state.LeaseInfo{Stack: l.stack, Stage: l.stage, User: d.User, Host: d.Host, PID: d.PID, Command: d.Command,
		Started: d.Started, Renewed: l.renewedAt, Expires: l.renewedAt.Add(l.ttl), Token: d.token()}
}

func (l *lease) Lost() <-chan struct{} { return l.lost }

func (l *lease) Err() error {
	select {
	case <-l.lost:
		return l.lostErr
	default:
		return nil
	}
}

func (l *lease) lose(reason string) error {
	l.lostOnce.Do(func() {
		l.lostErr = &state.LostError{Stack: l.stack, Stage: l.stage, Reason: reason}
		close(l.lost)
	})
	return l.lostErr
}

// Check renews the lease when the last renewal is older than a heartbeat.
func (l *lease) Check() error {
	if err := l.Err(); err != nil {
		return err
	}
	l.leaseMu.Lock()
	fresh := time.Since(l.renewedAt) < l.heartbeat
	l.leaseMu.Unlock()
	if fresh {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(l.ttl/2, 5*time.Second))
	defer cancel()
	if err := l.renew(ctx); err != nil {
		if lerr := l.Err(); lerr != nil {
			return lerr
		}
		return err
	}
	return nil
}

// renew rewrites lease.json If-Match the ETag of this holder's last write;
// a 412 or 404 means another holder took it over or broke it.
func (l *lease) renew(ctx context.Context) error {
	l.leaseMu.Lock()
	defer l.leaseMu.Unlock()
	return l.renewLocked(ctx)
}

func (l *lease) renewLocked(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return err
	}
	d := *l.doc
	d.Renewals++
	sent := time.Now()
	d.Renewed = sent.UTC()
	body, err := marshal(&d)
	if err != nil {
		return err
	}
	etag, err := l.b.put(ctx, l.p+leaseName, body, cond{ifMatch: l.leaseEtag})
	for tries := 0; tries < 5 && errors.Is(err, errPrecondition); tries++ {
		// AWS answers 409 ConditionalRequestConflict (read as a failed
		// precondition) when another conditional write races ours, even
		// one that then fails: the lease unchanged means it is still ours.
		o, rerr := l.b.readLease(ctx, l.p)
		if rerr != nil || o == nil || o.etag != l.leaseEtag {
			break
		}
		time.Sleep(time.Duration(mrand.Int64N(int64(50 * time.Millisecond))))
		etag, err = l.b.put(ctx, l.p+leaseName, body, cond{ifMatch: l.leaseEtag})
	}
	if errors.Is(err, errPrecondition) || errors.Is(err, errNotFound) {
		return l.lose(l.whoTookIt(ctx))
	}
	if err != nil {
		if time.Since(l.renewedAt) >= l.ttl {
			return l.lose(fmt.Sprintf("it could not be renewed for its TTL of %s (%v)", l.ttl, err))
		}
		return err
	}
	l.doc, l.leaseEtag, l.renewedAt = &d, etag, sent
	return nil
}

// whoTookIt says why the lease is gone, naming the new holder.
func (l *lease) whoTookIt(ctx context.Context) string {
	o, err := l.b.readLease(ctx, l.p)
	switch {
	case err != nil || o == nil:
		return "its lease object changed or was deleted by another process"
	case o.doc.Released && o.doc.BrokenBy != "":
		return "it was broken by " + o.doc.BrokenBy
	case o.doc.Released && o.doc.Epoch != l.doc.Epoch:
		// Another grant came and went while this holder was paused.
		return fmt.Sprintf("it expired (no heartbeat for its TTL of %s) and was taken over by %s, which has since released it",
			l.ttl, l.b.info(l.stack, l.stage, o).Holder())
	case o.doc.Released:
		return "it was broken"
	}
	return "it was taken over by " + l.b.info(l.stack, l.stage, o).Holder()
}

func (l *lease) beat() {
	defer close(l.stopped)
	t := time.NewTicker(l.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.lost:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), max(l.ttl/2, 5*time.Second))
			_ = l.renew(ctx)
			cancel()
		}
	}
}

// cut moves the stage's head to this lease (If-Match the head it read),
// then loads the state it points at. From the cut on, every commit of an
// older holder fails: its If-Match names a head that is gone.
func (l *lease) cut(ctx context.Context) error {
	b := l.b
	for attempt := 0; attempt < 20; attempt++ {
		h, etag, err := b.readHead(ctx, l.p, "")
		if err != nil {
			return err
		}
		c := cond{ifMatch: etag}
		if h == nil {
			h = &headDoc{V: formatVersion}
			c = cond{ifAbsent: true}
		} else if e := epochOf(h.Token); e >= l.doc.Epoch && h.Token != l.doc.token() {
			return l.lose("another holder (lease epoch " + fmt.Sprint(e) + ") cut the stage over before this one could")
		}
		next := h.clone()
		next.V, next.Token, next.Seq = formatVersion, l.doc.token(), h.Seq+1
		body, err := marshal(next)
		if err != nil {
			return err
		}
		newEtag, err := b.put(ctx, l.p+headName, body, c)
		if errors.Is(err, errPrecondition) || errors.Is(err, errNotFound) {
			continue // an older holder committed meanwhile: read it again
		}
		if err != nil {
			return err
		}
		st, err := b.materialize(ctx, l.p, next, nil)
		if err != nil {
			return err // nothing can fold the objects away under this holder
		}
		l.head, l.headEtag, l.st = next, newEtag, st
		return nil
	}
	return fmt.Errorf("S3 state: the head of %s/%s kept changing while taking its lease; try again", l.stack, l.stage)
}

// giveBack releases a lease that never became usable.
func (l *lease) giveBack(ctx context.Context) {
	d := *l.doc
	d.Released, d.Renewals = true, d.Renewals+1
	if body, err := marshal(&d); err == nil {
		_, _ = l.b.put(ctx, l.p+leaseName, body, cond{ifMatch: l.leaseEtag})
	}
}

// Release gives the lease up: it waits for commits in flight, deletes the
// objects the head no longer points at, and marks the lease released (a
// conditional PUT). A stage left with no state loses its objects, head and
// lease included. A lost lease is left alone: it is someone else's now.
func (l *lease) Release() error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	for l.running {
		l.idle.Wait()
	}
	l.mu.Unlock()
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.stopped
	if l.Err() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := l.resolvePending(ctx); err != nil {
		return err
	}
	l.collect(ctx)
	l.leaseMu.Lock()
	defer l.leaseMu.Unlock()
	if l.Err() != nil {
		return nil
	}
	if l.head.empty() && len(l.head.refs()) == 0 {
		// Nothing left: delete the stage's objects. sweep renewed the
		// lease just before, so nobody can have taken it over since;
		// If-Match guards the deletes too, on services that honour it.
		if err := l.sweep(ctx, true); err == nil {
			if err := l.b.del(ctx, l.p+headName, l.headEtag); err == nil {
				if err := l.b.del(ctx, l.p+leaseName, l.leaseEtag); err == nil {
					return nil
				}
			}
		}
		if l.Err() != nil {
			return nil
		}
	}
	d := *l.doc
	d.Released, d.Renewals = true, d.Renewals+1
	body, err := marshal(&d)
	if err != nil {
		return err
	}
	_, err = l.b.put(ctx, l.p+leaseName, body, cond{ifMatch: l.leaseEtag})
	if errors.Is(err, errPrecondition) || errors.Is(err, errNotFound) {
		return nil // taken over meanwhile: not ours to release
	}
	return err
}

// Store is the stage's store with every write fenced by this lease.
func (l *lease) Store() state.Store { return &leaseStore{l: l} }

// op is one write of the lease's Store.
type op struct {
	fqn     string
	row     json.RawMessage // nil with fqn: delete
	output  *outputChange
	clear   bool // DeleteStage
	compact bool // Flush: fold segments into a snapshot
}

type commitReq struct {
	op   op
	done chan error
}

// submit queues a write and waits until the head that carries it is in S3
// (group commit: one PUT carries every write queued meanwhile).
func (l *lease) submit(ctx context.Context, o op) error {
	if err := l.Err(); err != nil {
		return err
	}
	req := &commitReq{op: o, done: make(chan error, 1)}
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return &state.LostError{Stack: l.stack, Stage: l.stage, Reason: "this process released it"}
	}
	l.queue = append(l.queue, req)
	if !l.running {
		l.running = true
		go l.commitLoop()
	}
	l.mu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w (the write may still be committed)", ctx.Err())
	}
}

func (l *lease) commitLoop() {
	for {
		l.mu.Lock()
		batch := l.queue
		l.queue = nil
		if len(batch) == 0 {
			l.running = false
			l.idle.Broadcast()
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := l.commit(ctx, batch)
		cancel()
		for _, r := range batch {
			r.done <- err
		}
	}
}

// commit writes one batch: the new head, If-Match the last one. When the
// head's inline changes outgrow InlineLimit they move to a segment object
// first (If-None-Match), and when the segments outgrow the snapshot, the
// whole state goes to a new snapshot.
func (l *lease) commit(ctx context.Context, batch []*commitReq) error {
	if err := l.Err(); err != nil {
		return err
	}
	// Past most of the TTL since the last renewal (a paused process, a
	// stalled heartbeat): make sure the lease is still ours first.
	l.leaseMu.Lock()
	stale := time.Since(l.renewedAt) >= l.ttl*4/5
	l.leaseMu.Unlock()
	if stale {
		if err := l.renew(ctx); err != nil {
			return err
		}
	}
	if err := l.resolvePending(ctx); err != nil {
		return err
	}
	b := l.b
	l.mu.Lock()
	cur, st := l.head, l.st
	l.mu.Unlock()

	d := &delta{}
	clear, compact := false, false
	for _, r := range batch {
		switch o := r.op; {
		case o.clear:
			clear, d = true, &delta{}
		case o.compact:
			compact = true
		case o.output != nil:
			d.Output = o.output
		default:
			if d.Rows == nil {
				d.Rows = map[string]json.RawMessage{}
			}
			_, exists := st.rows[o.fqn]
			switch {
			case o.row != nil:
				d.Rows[o.fqn] = o.row
			case exists && !clear:
				d.Rows[o.fqn] = json.RawMessage("null")
			default:
				delete(d.Rows, o.fqn) // it exists nowhere but in this batch
			}
		}
	}
	if !clear && d.isEmpty() && !(compact && len(cur.Segments) > 0) {
		return nil // nothing to write (a Flush with nothing to fold, a Delete of nothing)
	}
	next := cur.clone()
	next.Seq = cur.Seq + 1
	nst := st.clone()
	if clear {
		nst = newStageState()
		next.Snapshot, next.Segments, next.Changes = nil, nil, nil
	}
	nst.apply(d)
	next.Rows, next.HasOutput = len(nst.rows), nst.output != nil
	if next.Changes == nil {
		next.Changes = &delta{}
	}
	next.Changes.merge(d)

	var written, dropped []string
	inline, err := marshal(next.Changes)
	if err != nil {
		return err
	}
	segBytes := len(inline)
	for _, s := range next.Segments {
		segBytes += s.Bytes
	}
	snapBytes := 0
	if next.Snapshot != nil {
		snapBytes = next.Snapshot.Bytes
	}
	name := fmt.Sprintf("%s-%012d.json", l.doc.token(), next.Seq)
	switch {
	case (compact && (len(next.Segments) > 0 || len(inline) > b.opts.InlineLimit)) ||
		(len(inline) > b.opts.InlineLimit && (len(next.Segments) >= 16 || segBytes > max(snapBytes, 4*b.opts.InlineLimit))):
		// Fold everything into a new snapshot.
		body, err := marshal(nst.snapshot())
		if err != nil {
			return err
		}
		key := snapDir + name
		if _, err := b.put(ctx, l.p+key, body, cond{ifAbsent: true}); err != nil {
			return err
		}
		written = append(written, key)
		dropped = next.refs()
		next.Snapshot, next.Segments, next.Changes = &ref{Key: key, Bytes: len(body)}, nil, &delta{}
	case len(inline) > b.opts.InlineLimit:
		seg := next.Changes.clone()
		seg.V = formatVersion
		body, err := marshal(seg)
		if err != nil {
			return err
		}
		key := segDir + name
		if _, err := b.put(ctx, l.p+key, body, cond{ifAbsent: true}); err != nil {
			return err
		}
		written = append(written, key)
		next.Segments = append(next.Segments, ref{Key: key, Bytes: len(body)})
		next.Changes = &delta{}
	}
	if clear {
		dropped = append(dropped, cur.refs()...)
	}
	if next.Changes.isEmpty() {
		next.Changes = nil
	}
	body, err := marshal(next)
	if err != nil {
		return err
	}
	etag, err := b.put(ctx, l.p+headName, body, cond{ifMatch: l.headEtag})
	for tries := 0; errors.Is(err, errPrecondition) || errors.Is(err, errNotFound); tries++ {
		// Our own PUT retried by the SDK after it landed, another holder's
		// cut, or (AWS's 409 ConditionalRequestConflict) a conditional
		// write racing ours that changed nothing: the head says which.
		h, hEtag, rerr := b.readHead(ctx, l.p, "")
		switch {
		case rerr != nil:
			err = rerr // unknown outcome: the next commit finds out
		case h != nil && h.Token == next.Token && h.Seq == next.Seq:
			etag, err = hEtag, nil
		case h != nil && hEtag == l.headEtag && tries < 5:
			time.Sleep(time.Duration(mrand.Int64N(int64(50 * time.Millisecond))))
			etag, err = b.put(ctx, l.p+headName, body, cond{ifMatch: l.headEtag})
			continue
		default:
			var keep []string
			if h != nil {
				keep = h.refs()
			}
			var orphans []string
			for _, k := range written {
				if !slices.Contains(keep, k) {
					orphans = append(orphans, l.p+k)
				}
			}
			_ = b.delMany(ctx, orphans)
			return l.lose("another holder took the stage over (its state head changed under this one)")
		}
		break
	}
	if err != nil {
		// No answer: the head may or may not have landed.
		l.mu.Lock()
		l.pending = next
		l.pendingState = nst
		l.pendingDropped = dropped
		l.mu.Unlock()
		return fmt.Errorf("S3 state: committing to %s/%s: %w (whether the write landed is unknown; the next write finds out)", l.stack, l.stage, err)
	}
	l.mu.Lock()
	l.head, l.headEtag, l.st = next, etag, nst
	l.garbage = append(l.garbage, dropped...)
	l.mu.Unlock()
	return nil
}

// resolvePending finds out whether a head PUT that got no answer landed.
func (l *lease) resolvePending(ctx context.Context) error {
	l.mu.Lock()
	p := l.pending
	l.mu.Unlock()
	if p == nil {
		return nil
	}
	h, etag, err := l.b.readHead(ctx, l.p, "")
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case h != nil && h.Token == p.Token && h.Seq == p.Seq:
		l.head, l.headEtag, l.st = p, etag, l.pendingState
		l.garbage = append(l.garbage, l.pendingDropped...)
	case h != nil && h.Token == l.head.Token && h.Seq == l.head.Seq:
		// It did not land; the head is still our last one.
	default:
		l.pending = nil
		return l.lose("another holder took the stage over (its state head changed under this one)")
	}
	l.pending, l.pendingState, l.pendingDropped = nil, nil, nil
	return nil
}

// collect deletes the objects the head no longer points at (best effort:
// a leftover is only garbage).
func (l *lease) collect(ctx context.Context) {
	l.mu.Lock()
	g := l.garbage
	l.garbage = nil
	l.mu.Unlock()
	keys := make([]string, len(g))
	for i, k := range g {
		keys[i] = l.p + k
	}
	if len(keys) > 0 {
		_ = l.b.delMany(ctx, keys)
	}
}

// sweep deletes the stage's snapshot and segment objects the head does not
// point at (left by holders that died between writing one and the head),
// or, with all (no commit in flight: Release), every object but head and
// lease. Objects of this lease's own grant are left to collect, since a
// commit may be writing one right now. It first renews the lease
// after listing: then no later holder existed when the list was made, so
// every listed object is an older holder's or ours, and the head (ours)
// is the only one that can ever point at them again.
func (l *lease) sweep(ctx context.Context, all bool) error {
	keys, err := l.b.listKeys(ctx, l.p)
	if err != nil {
		return err
	}
	if err := l.renewLocked(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	keep := l.head.refs()
	l.mu.Unlock()
	mine := l.doc.token()
	var del []string
	for _, k := range keys {
		rel := k[len(l.p):]
		if rel == headName || rel == leaseName || slices.Contains(keep, rel) {
			continue
		}
		if !all && strings.Contains(rel, mine) {
			// Ours: maybe a commit's segment whose head is still in
			// flight. Ours that the head dropped are in l.garbage.
			continue
		}
		if all || sweepable(rel) {
			del = append(del, k)
		}
	}
	return l.b.delMany(ctx, del)
}

// leaseStore is the lease's fenced Store. Reads of its stage come from
// memory (the holder is the stage's only writer); other stages are read
// from S3. Writes go only to its stage.
type leaseStore struct{ l *lease }

var (
	_ state.Store   = (*leaseStore)(nil)
	_ state.Flusher = (*leaseStore)(nil)
)

func (s *leaseStore) mine(stack, stage string) (bool, error) {
	if err := state.ValidateSegment("stack", stack); err != nil {
		return false, err
	}
	if err := state.ValidateSegment("stage", stage); err != nil {
		return false, err
	}
	return stack == s.l.stack && stage == s.l.stage, nil
}

func (s *leaseStore) writable(stack, stage string) error {
	mine, err := s.mine(stack, stage)
	if err != nil {
		return err
	}
	if !mine {
		return fmt.Errorf("S3 state: the lease of %s/%s cannot write %s/%s", s.l.stack, s.l.stage, stack, stage)
	}
	return nil
}

func (s *leaseStore) snapshot() *stageState {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.l.st
}

func (s *leaseStore) List(ctx context.Context, stack, stage string) ([]string, error) {
	if mine, err := s.mine(stack, stage); err != nil || !mine {
		if err != nil {
			return nil, err
		}
		return s.l.b.List(ctx, stack, stage)
	}
	return slices.Sorted(mapsKeys(s.snapshot().rows)), nil
}

func (s *leaseStore) Get(ctx context.Context, stack, stage, fqn string) (*state.Row, error) {
	if mine, err := s.mine(stack, stage); err != nil || !mine {
		if err != nil {
			return nil, err
		}
		return s.l.b.Get(ctx, stack, stage, fqn)
	}
	return s.l.b.parseRow(stack, stage, fqn, s.snapshot().rows[fqn])
}

// GetAll reads the whole stage from memory (state.BulkReader).
func (s *leaseStore) GetAll(ctx context.Context, stack, stage string) (map[string]*state.Row, error) {
	if mine, err := s.mine(stack, stage); err != nil || !mine {
		if err != nil {
			return nil, err
		}
		return s.l.b.GetAll(ctx, stack, stage)
	}
	return s.l.b.parseAll(stack, stage, s.snapshot())
}

func (s *leaseStore) GetOutput(ctx context.Context, stack, stage string) (json.RawMessage, error) {
	if mine, err := s.mine(stack, stage); err != nil || !mine {
		if err != nil {
			return nil, err
		}
		return s.l.b.GetOutput(ctx, stack, stage)
	}
	return slices.Clone(s.snapshot().output), nil
}

func (s *leaseStore) Set(ctx context.Context, stack, stage string, row *state.Row) error {
	if err := s.writable(stack, stage); err != nil {
		return err
	}
	if row == nil || row.FQN == "" {
		return errors.New("S3 state: Set of a row without an FQN")
	}
	raw, err := row.MarshalJSON()
	if err != nil {
		return err
	}
	return s.l.submit(ctx, op{fqn: row.FQN, row: raw})
}

func (s *leaseStore) Delete(ctx context.Context, stack, stage, fqn string) error {
	if err := s.writable(stack, stage); err != nil {
		return err
	}
	return s.l.submit(ctx, op{fqn: fqn})
}

func (s *leaseStore) SetOutput(ctx context.Context, stack, stage string, out json.RawMessage) error {
	if err := s.writable(stack, stage); err != nil {
		return err
	}
	v := json.RawMessage("null")
	if !isNull(out) {
		if !json.Valid(out) {
			return errors.New("S3 state: the stack output is not valid JSON")
		}
		v = slices.Clone(out)
	}
	return s.l.submit(ctx, op{output: &outputChange{Value: v}})
}

// DeleteStage empties the stage in one commit; its objects go at Flush or
// Release, and with the lease's Release, head and lease too.
func (s *leaseStore) DeleteStage(ctx context.Context, stack, stage string) error {
	if err := s.writable(stack, stage); err != nil {
		return err
	}
	return s.l.submit(ctx, op{clear: true})
}

func (s *leaseStore) Stacks(ctx context.Context) ([]string, error) { return s.l.b.Stacks(ctx) }

func (s *leaseStore) Stages(ctx context.Context, stack string) ([]string, error) {
	return s.l.b.Stages(ctx, stack)
}

// Flush folds the head's segments into a snapshot (so the next reader
// needs two GETs), then deletes what no head points at any more.
func (s *leaseStore) Flush(ctx context.Context) error {
	if err := s.l.submit(ctx, op{compact: true}); err != nil {
		return err
	}
	s.l.collect(ctx)
	s.l.leaseMu.Lock()
	defer s.l.leaseMu.Unlock()
	if err := s.l.sweep(ctx, false); err != nil {
		if lerr := s.l.Err(); lerr != nil {
			return lerr
		}
		// Leftovers are only garbage: the state is committed.
	}
	return nil
}
