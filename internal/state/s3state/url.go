package s3state

import "github.com/alchemy-go/alchemy/internal/state/s3state/s3url"

// Location is where a store lives (s3url.Location; s3url.ParseURL reads
// one from a state URL).
type Location = s3url.Location
