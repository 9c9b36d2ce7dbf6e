//go:build ignore

// A Cloudflare Worker with a KV namespace and an R2 bucket bound to it.
//
//	alchemy deploy ./examples/cloudflare-worker
package main

import (
	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/cloudflare"
)

func main() {
	alchemy.Run("cf-worker", func(s *alchemy.Stack) {
		cache := cloudflare.NewKVNamespace(s, "Cache", cloudflare.KVNamespaceProps{})
		assets := cloudflare.NewR2Bucket(s, "Assets", cloudflare.R2BucketProps{})
		worker := cloudflare.NewWorker(s, "Api", cloudflare.WorkerProps{
			ScriptPath: alchemy.String("worker.js"),
			KV:         cloudflare.Bindings(map[string]alchemy.Output[string]{"CACHE": cache.ID}),
			R2:         cloudflare.Bindings(map[string]alchemy.Output[string]{"ASSETS": assets.Name}),
			Vars:       alchemy.V(map[string]string{"STAGE": s.Stage()}),
		})
		s.Output("url", worker.URL)
		s.Output("kvNamespace", cache.ID)
		s.Output("bucket", assets.Name)
	})
}
