package s3state

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alchemy-go/alchemy/internal/state"
	"github.com/alchemy-go/alchemy/internal/state/statetest"
)

// BenchmarkStage1000 is one stage of 1,000 rows (about 600 bytes each) on
// the versitygw peer, per iteration: acquire the lease of an empty stage,
// 1,000 concurrent Sets through its Store (group-committed), Flush (fold
// into one snapshot, delete the rest), release; load the stage from
// another client (cold: head + snapshot), load it again unchanged (a 304);
// DeleteStage. Each phase is reported in ms.
//
//	go test -run '^$' -bench Stage1000 -benchtime 5x ./internal/state/s3state
func BenchmarkStage1000(b *testing.B) {
	b.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	loc, g := gwLocation(b)
	rows := make([]*state.Row, 1000)
	for i := range rows {
		r := statetest.Row(fmt.Sprintf("Api/Function%04d", i), state.Created)
		r.Props = json.RawMessage(fmt.Sprintf(`{"name":"fn-%04d","runtime":"nodejs22.x","memory":256,"timeout":30,"env":{"TABLE":"t-%04d","STAGE":"prod"},"handler":"index.handler","role":"arn:aws:iam::123456789012:role/fn-%04d"}`, i, i, i))
		r.Attr = json.RawMessage(fmt.Sprintf(`{"arn":"arn:aws:lambda:us-east-1:123456789012:function:fn-%04d","version":"$LATEST","codeSha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`, i))
		r.Downstream = []string{fmt.Sprintf("Api/Route%04d", i)}
		rows[i] = r
	}
	var acquire, sets, flush, load, noop, del time.Duration
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		stage := fmt.Sprintf("bench%d", n)
		w, r := openAt(b, loc, g, Options{}), openAt(b, loc, g, Options{})
		t0 := time.Now()
		l, err := w.Acquire(ctx, "app", stage, state.LeaseOptions{})
		must(b, err)
		t1 := time.Now()
		var wg sync.WaitGroup
		for _, row := range rows {
			wg.Go(func() {
				if err := l.Store().Set(ctx, "app", stage, row); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		t2 := time.Now()
		must(b, state.Flush(ctx, l.Store()))
		must(b, l.Release())
		t3 := time.Now()
		got, err := state.LoadAll(ctx, r, "app", stage)
		must(b, err)
		t4 := time.Now()
		if _, err := state.LoadAll(ctx, r, "app", stage); err != nil {
			b.Fatal(err)
		}
		t5 := time.Now()
		must(b, r.DeleteStage(ctx, "app", stage))
		t6 := time.Now()
		if len(got) != len(rows) {
			b.Fatalf("loaded %d rows", len(got))
		}
		acquire += t1.Sub(t0)
		sets += t2.Sub(t1)
		flush += t3.Sub(t2)
		load += t4.Sub(t3)
		noop += t5.Sub(t4)
		del += t6.Sub(t5)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(acquire), "acquire-ms")
	b.ReportMetric(ms(sets), "1000sets-ms")
	b.ReportMetric(ms(flush), "flush+release-ms")
	b.ReportMetric(ms(load), "load-ms")
	b.ReportMetric(ms(noop), "reload-unchanged-ms")
	b.ReportMetric(ms(del), "deletestage-ms")
}

// BenchmarkDeployCommits is a deploy's commit pattern: 1,000 rows, each
// committed twice (creating, then created) by 16 workers, as the engine
// does around its provider calls; then Flush and release.
func BenchmarkDeployCommits(b *testing.B) {
	b.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	loc, g := gwLocation(b)
	for n := 0; n < b.N; n++ {
		w := openAt(b, loc, g, Options{})
		stage := fmt.Sprintf("deploy%d", n)
		l, err := w.Acquire(ctx, "app", stage, state.LeaseOptions{})
		must(b, err)
		next := make(chan int)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for i := range next {
					r := statetest.Row(fmt.Sprintf("Api/Function%04d", i), state.Creating)
					if err := l.Store().Set(ctx, "app", stage, r); err != nil {
						b.Error(err)
					}
					r.Status = state.Created
					if err := l.Store().Set(ctx, "app", stage, r); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for i := range 1000 {
			next <- i
		}
		close(next)
		wg.Wait()
		must(b, state.Flush(ctx, l.Store()))
		must(b, l.Release())
	}
}
