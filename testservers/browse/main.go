// Command browse drives a headless Chromium with chromedp, as a person at a
// browser would, for the tests that need a real browser: it starts the
// browser at once, reads the URL to open from stdin (so the browser starts
// while the test waits for the URL), runs the steps, then waits for the page
// title and prints the page it ended on as JSON:
//
//	{"title": "...", "location": "...", "body": "..."}
//
// Steps: wait:ID (until the element is visible), type:ID=TEXT, click:ID.
// It is a program of the testservers module so that chromedp stays out of
// the SDK's go.mod.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

func main() {
	chromium := flag.String("chromium", "/usr/bin/chromium", "the browser")
	userData := flag.String("user-data-dir", "", "a fresh profile directory (required)")
	title := flag.String("until-title", "", "after the steps, wait until the page has this title (required)")
	timeout := flag.Duration("timeout", 3*time.Minute, "for everything")
	flag.Parse()
	if *userData == "" || *title == "" {
		fail("-user-data-dir and -until-title are required")
	}
	var actions []chromedp.Action[chromedp.Void]
	for _, step := range flag.Args() {
		a, err := action(step)
		if err != nil {
			fail(err.Error())
		}
		actions = append(actions, a)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(*chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(*userData),
	)
	defer cancelAlloc()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "chromedp: "+format+"\n", args...) }
	cctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(logf), chromedp.WithErrorf(logf))
	defer cancelTab()
	if err := chromedp.Do(cctx); err != nil { // launches the browser
		fail("start chromium: " + err.Error())
	}

	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	url := strings.TrimSpace(line)
	if url == "" {
		fail(fmt.Sprintf("no URL on stdin (%v)", err))
	}
	if err := chromedp.Do(cctx, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(url)}, actions...)...); err != nil {
		fail("steps: " + err.Error())
	}

	// The last step may start a navigation (a form post, redirects): poll
	// until it lands on the page with the title.
	var page struct {
		Title    string `json:"title"`
		Location string `json:"location"`
		Body     string `json:"body"`
	}
	for {
		pctx, cancelPoll := context.WithTimeout(cctx, 10*time.Second)
		var err error
		if page.Title, err = chromedp.Run(pctx, chromedp.Title()); err == nil {
			if page.Location, err = chromedp.Run(pctx, chromedp.Location()); err == nil {
				page.Body, err = chromedp.Run(pctx, chromedp.Text(chromedp.CSS("body")))
			}
		}
		cancelPoll()
		if err == nil && page.Title == *title {
			break
		}
		if ctx.Err() != nil {
			json.NewEncoder(os.Stdout).Encode(page)
			fail(fmt.Sprintf("the page did not get the title %q (at %s, title %q, err %v)", *title, page.Location, page.Title, err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	json.NewEncoder(os.Stdout).Encode(page)
}

func action(step string) (chromedp.Action[chromedp.Void], error) {
	kind, arg, _ := strings.Cut(step, ":")
	switch kind {
	case "wait":
		return chromedp.WaitVisible(chromedp.ID(arg)), nil
	case "click":
		return chromedp.Click(chromedp.ID(arg)), nil
	case "type":
		if id, text, ok := strings.Cut(arg, "="); ok {
			return chromedp.SendKeys(chromedp.ID(id), text), nil
		}
	}
	return nil, fmt.Errorf("bad step %q: want wait:ID, type:ID=TEXT or click:ID", step)
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "browse: "+msg)
	os.Exit(1)
}
