package state

import (
	"hash/maphash"
	"sync"
)

// behind writes settled rows to their files while the run goes on, so
// that the files a large deploy or destroy must create or delete are
// mostly done by the time it flushes, instead of all after its last
// commit. Only durable records are handed to it (the journal holds them
// until the flush, which is what makes them safe); a record is written
// only while it is still its row's latest, and the flush stops it before
// writing whatever it did not, so a file never ends up older than the
// journal. Files of one row always go through the same writer, in order.
type behind struct {
	d       *stageDir
	lanes   []*lane
	wg      sync.WaitGroup
	seed    maphash.Seed
	mu      sync.Mutex
	stopped bool
	wrote   bool
}

// lane is one writer's queue.
type lane struct {
	mu    sync.Mutex
	queue []record
	wake  chan struct{}
}

// behindAfter is how many settled records a journal takes before it
// starts writing behind: a small run's flush is quick anyway. (A variable
// for the crash test.)
var behindAfter = 256

// behindWriters is how many files are written behind at once: deletes
// gain from a few (the file system releases blocks outside the directory's
// lock), creations do not.
const behindWriters = 4

func startBehind(d *stageDir) *behind {
	b := &behind{d: d, seed: maphash.MakeSeed()}
	for range behindWriters {
		l := &lane{wake: make(chan struct{}, 1)}
		b.lanes = append(b.lanes, l)
		b.wg.Go(func() { b.run(l) })
	}
	return b
}

// add hands over durable records; those not settled stay in the journal
// until the flush.
func (b *behind) add(recs []record) {
	for _, r := range recs {
		if !r.settled {
			continue
		}
		l := b.lanes[maphash.String(b.seed, r.Stem)%uint64(len(b.lanes))]
		l.mu.Lock()
		l.queue = append(l.queue, r)
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

func (b *behind) run(l *lane) {
	for range l.wake {
		for {
			l.mu.Lock()
			queue := l.queue
			l.queue = nil
			l.mu.Unlock()
			if len(queue) == 0 {
				break
			}
			for _, r := range queue {
				if b.isStopped() {
					return
				}
				b.write(r)
			}
		}
	}
}

// write puts r in its file if it is still its row's latest record. An
// error leaves the row to the flush, which reports it.
func (b *behind) write(r record) {
	j := &b.d.j
	j.mu.Lock()
	latest := j.pending[r.Stem].seq == r.seq
	j.mu.Unlock()
	if !latest {
		return
	}
	if err := b.d.writeEntry(r.Stem, entry{fqn: r.FQN, data: r.Data, seq: r.seq}); err != nil {
		return
	}
	j.mu.Lock()
	if j.inFile != nil {
		j.inFile[r.Stem] = r.seq
	}
	j.mu.Unlock()
	b.mu.Lock()
	b.wrote = true
	b.mu.Unlock()
}

func (b *behind) isStopped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopped
}

// stop ends the writers once their current file is done, leaving what is
// queued, and reports whether they wrote anything.
func (b *behind) stop() bool {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	for _, l := range b.lanes {
		close(l.wake)
	}
	b.wg.Wait()
	return b.wrote
}
