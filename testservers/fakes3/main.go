// Command fakes3 serves gofakes3 (an in-memory S3 with versioning) on
// 127.0.0.1, for tests that need what the npm S3 peer (s3rver) lacks. It is
// a program of the testservers module so that gofakes3 stays out of the
// SDK's go.mod.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/alchemy-go/alchemy/testservers/internal/loopback"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	flag.Parse()
	l, _ := loopback.Listen("fakes3", *addr)
	fmt.Fprintln(os.Stderr, http.Serve(l, gofakes3.New(s3mem.New()).Server()))
	os.Exit(1)
}
