//go:build ignore

// syscall-cost times the system calls a plan reads its row files with, one
// thread, over every file of a directory (a stage's .alchemy/state/<stack>/
// <stage>): openat relative to the directory, one read, close; then one
// fstatat per file. Three timed rounds after one to warm up; per file.
//
//	go run scripts/syscall-cost.go .alchemy/state/bench/dev_unknown
package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run scripts/syscall-cost.go DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	ents, err := os.ReadDir(dir)
	if err != nil {
		panic(err)
	}
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 64<<10)
	per := func(total time.Duration) time.Duration { return total / time.Duration(len(ents)) }
	for round := 0; round < 4; round++ { // the first, untimed, warms the page cache and buf
		var open, read, closing time.Duration
		for _, e := range ents {
			a := time.Now()
			fd, err := unix.Openat(d, e.Name(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			b := time.Now()
			unix.Read(fd, buf)
			c := time.Now()
			unix.Close(fd)
			open, read, closing = open+b.Sub(a), read+c.Sub(b), closing+time.Since(c)
		}
		if round == 0 {
			continue
		}
		fmt.Printf("%d files: openat %v, read %v, close %v per file\n", len(ents), per(open), per(read), per(closing))
	}
	var st unix.Stat_t
	start := time.Now()
	for _, e := range ents {
		unix.Fstatat(d, e.Name(), &st, 0)
	}
	fmt.Printf("fstatat %v per file\n", per(time.Since(start)))
}
