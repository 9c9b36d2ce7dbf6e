//go:build ignore

// A stack for the secret-leak test (TestNoStackCommandLeaksASecret): a
// local file written from a secret value, which a stack output derives from
// too, and (unless LEAKY_LOCAL_ONLY is set, for a deploy that succeeds) a
// resource of each cloud, which needs the profile's credentials. The secret
// comes from the environment, as a real one would.
package main

import (
	"os"

	"github.com/alchemy-go/alchemy"
	"github.com/alchemy-go/alchemy/aws"
	"github.com/alchemy-go/alchemy/cloudflare"
	"github.com/alchemy-go/alchemy/local"
)

func main() {
	alchemy.Run("leaky", func(s *alchemy.Stack) {
		secret := alchemy.Secret(os.Getenv("LEAKY_SECRET"))
		file := local.NewFile(s, "Config", local.FileProps{
			Path:    alchemy.Sprintf("out/%s.env", s.Stage()),
			Content: alchemy.Sprintf("API_KEY=%s\n", secret),
		})
		s.Output("config", file.Path)
		s.Output("header", alchemy.Sprintf("Bearer %s", secret))
		if os.Getenv("LEAKY_LOCAL_ONLY") != "" {
			return
		}
		kv := cloudflare.NewKVNamespace(s, "Cache", cloudflare.KVNamespaceProps{})
		bucket := aws.NewS3Bucket(s, "Assets", aws.S3BucketProps{})
		s.Output("kv", kv.ID)
		s.Output("bucket", bucket.BucketName)
	})
}
