package s3state

import "github.com/alchemy-go/alchemy/internal/state/s3state/s3url"

// Location is where a store lives (s3url.Location).
type Location = s3url.Location

// ParseURL parses an s3:// state URL (s3url.ParseURL).
func ParseURL(raw string) (Location, error) { return s3url.ParseURL(raw) }
