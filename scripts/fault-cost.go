//go:build ignore

// fault-cost times what a process pays the first time it touches a page
// of memory, the cost under every Go program's start and every byte a
// short-lived command allocates: one write to each 4 KiB page of a fresh
// anonymous mapping (the Go heap, goroutine stacks), and to each page of a
// private mapping of a file (a binary's data segment, written by package
// init), against a second write to the same pages; and the anonymous
// mapping again with transparent huge pages asked for. Three rounds.
//
//	go run scripts/fault-cost.go [FILE]     # FILE: any file of a few MB (default: this program)
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

func main() {
	path, _ := os.Executable()
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	const pages = 4096
	page := os.Getpagesize()
	for round := 0; round < 3; round++ {
		b, err := syscall.Mmap(-1, 0, pages*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			panic(err)
		}
		first, again := touch(b, page), touch(b, page)
		syscall.Munmap(b)
		fmt.Printf("anonymous: first touch %.2f µs/page, again %.3f µs/page\n", us(first, pages), us(again, pages))

		// The same memory asked for in 2 MB pages (MADV_HUGEPAGE): what
		// the Go heap would pay if the runtime kept that advice.
		h, err := syscall.Mmap(-1, 0, pages*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			panic(err)
		}
		if err := syscall.Madvise(h, 14 /* MADV_HUGEPAGE */); err != nil {
			fmt.Println("huge pages:", err)
		} else {
			fmt.Printf("anonymous, huge pages: first touch %.2f µs/4 KiB\n", us(touch(h, page), pages))
		}
		syscall.Munmap(h)

		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		st, _ := f.Stat()
		n := int(st.Size()) / page
		m, err := syscall.Mmap(int(f.Fd()), 0, n*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
		f.Close()
		if err != nil {
			panic(err)
		}
		first = touch(m, page)
		syscall.Munmap(m)
		fmt.Printf("private file mapping (%d pages): first write %.2f µs/page\n", n, us(first, n))
	}
}

func touch(b []byte, page int) time.Duration {
	start := time.Now()
	for i := 0; i < len(b); i += page {
		b[i]++
	}
	return time.Since(start)
}

func us(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }
