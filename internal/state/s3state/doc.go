// Package s3state is the S3 state backend (state.Backend): stage state and
// stage leases in a bucket, on AWS S3 or any S3-compatible service that
// implements conditional writes (PutObject with If-None-Match: * and
// If-Match), such as Cloudflare R2. URLs: s3://bucket/prefix?region=…
// (&endpoint=https://… for a compatible service).
//
// # Layout
//
// Each stage has a prefix P = <prefix><stack>/<stage>/ holding:
//
//	P/lease.json                    who holds the stage: epoch, nonce, user, host, pid,
//	                                command, started, renewed, ttlMs, released
//	P/head.json                     the stage's state: a token, a sequence number, the
//	                                row count, and Snapshot + Segments + inline Changes
//	P/snap/<token>-<seq>.json       a snapshot: every row and the output (immutable)
//	P/seg/<token>-<seq>.json        a segment: changes moved out of the head (immutable)
//
// No key is both an object and the prefix of other keys (posix-backed
// services such as versitygw refuse that). The state of a stage is its
// snapshot, then each segment, then the head's inline changes, applied in
// order; a reader needs the head plus, in parallel, what it points at:
// after a Flush, one snapshot.
//
// # Leases
//
// A lease is lease.json. Acquire claims an absent one with If-None-Match: *,
// and takes over one that is released, expired, or held by a dead process
// of this host with If-Match: <the ETag it read> and epoch+1; exactly one
// of several racers wins each conditional PUT. The holder renews it every
// Heartbeat (TTL/6) with If-Match: <its last ETag>; every renewal's body
// differs (a counter), so its ETag does too. A 412 or 404 on renewal means
// the lease was taken over or broken: Lost closes with a *state.LostError
// naming the new holder. Expiry uses the server's clock only: the lease
// object's Last-Modified against the Date of the response that returned
// it, plus one second for their one-second resolution, so a client's clock
// skew never lets a lease be taken early. (When a server sends no Date, a
// waiter that sees the same ETag for TTL+1s of its own clock takes it.)
// Release and Break write a released body with If-Match, never DELETE: some
// S3-compatible services ignore If-Match on DELETE. The token of a grant is
// "<epoch>-<random nonce>"; Break needs the current one.
//
// On its first lease PUT a Backend proves the service rejects conditional
// writes that must fail (the same body again with If-None-Match: *, then
// with an If-Match matching nothing) and refuses to lease state on one that
// accepts either (s3rver accepts both).
//
// # Fencing: why a stale holder cannot overwrite the new holder's state
//
// Every commit is one conditional PUT of head.json, If-Match: <the ETag of
// the head this holder last wrote>. After taking the lease, and before
// reading the state, Acquire "cuts" the head over: it reads it and PUTs it
// back with its own token, If-Match: <the ETag it read>. From that PUT on,
// the old holder's next commit names an ETag that no longer exists and
// fails with 412 (its Set returns a LostError and Lost closes), whether or
// not it noticed the loss: paused by SIGSTOP, a GC or a laptop lid, cut off,
// or broken by hand. A commit of the old holder that landed before the cut
// is in the head the new holder copied, so nothing that returned success is
// ever lost; one that landed after the cut does not exist. Snapshot and
// segment objects are written before the head that points at them, under
// keys that carry the writer's token (If-None-Match: *), so a stale
// holder's late objects land only under keys no head points at; they are
// deleted (by the loser itself, or by the next holder's sweep). No clock is
// trusted for fencing: the lease's TTL decides only when a new holder may
// start, and the head's ETag decides which writes count.
//
// The holder also checks its lease before a commit when it was last
// renewed more than 4/5 of the TTL ago (a paused process), so it stops
// before its next provider call rather than after.
//
// A cut by a holder of an older epoch than the head's is refused, so a
// holder that was paused between its lease PUT and its cut cannot steal the
// stage back from a newer holder.
//
// # Commits, group commit and compaction
//
// The lease's Store keeps the stage's state in memory (the holder is its
// only writer) and serves reads from it. Writes are queued and committed in
// batches: one head PUT carries every write queued while the previous PUT
// was in flight, and each Set returns once the head that carries it is
// durable (the engine's rule: a commit is durable before the provider call
// it precedes). When the inline changes outgrow Options.InlineLimit (64 KiB)
// they move into a segment object; when the segments outgrow the snapshot
// (or number 16), the whole state goes to a new snapshot. Flush (end of
// every deploy) folds segments into a snapshot, deletes the objects the
// head no longer points at, and sweeps objects left by holders that died
// between writing one and the head (after renewing its lease, so no newer
// holder can have written any). A head PUT that gets no answer leaves the
// outcome unknown: the next commit reads the head to find out (its token
// and sequence number say whose it is).
//
// # Writes without a lease, reads, listings
//
// The Backend's own Store writes (state commands) take the stage's lease
// for the write (waiting up to Options.UnleasedWait), commit through it and
// release it, so they never race a deploy and are fenced like any other.
// Reads without a lease GET the head with If-None-Match: <the ETag last
// seen> (a 304 when nothing changed) and fetch only objects not already
// read (they are immutable); concurrent reads share one such GET, started
// after they began, so every read sees every commit that returned before
// it. GetAll (state.BulkReader, which state.LoadAll uses) reads a whole
// stage that way.
//
// A stage exists (Stages, Stacks) when its head has rows or an output.
// DeleteStage empties the head in one commit; at the release of the lease
// the stage's objects are deleted, then the head and the lease (If-Match,
// right after renewing the lease). A stage leased by another holder cannot
// be deleted without its lease.
package s3state
