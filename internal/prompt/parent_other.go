//go:build !unix

package prompt

// ParentEnv names the descriptors over which a stack program asks the
// alchemy command that runs it (Unix only: elsewhere stack programs link
// the terminal's prompter).
const ParentEnv = "ALCHEMY_PROMPT_FDS"
