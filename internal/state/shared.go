package state

import "sync"

// shared runs one operation for many concurrent callers that each need a
// run that started after they asked: a flush that covers their write, a
// lease check that is not older than their commit. do returns once such a
// run has finished, with its error; while one runs, the callers that
// arrive meanwhile wait for the next, which one of them starts for all.
// So N callers at once cost about two runs, not N, and none is served by
// an answer older than its call.
type shared struct {
	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // runs started
	done    uint64 // runs finished
	running bool
	err     error // result of run number done
}

func (s *shared) do(op func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cond == nil {
		s.cond = sync.NewCond(&s.mu)
	}
	// A run already going may have started before our call: we need the
	// next one.
	need := s.started + 1
	for s.done < need {
		if s.running {
			s.cond.Wait()
			continue
		}
		s.running = true
		s.started++
		n := s.started
		s.mu.Unlock()
		err := op()
		s.mu.Lock()
		s.running = false
		s.done, s.err = n, err
		s.cond.Broadcast()
	}
	return s.err
}
