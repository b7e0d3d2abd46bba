// Package version is shared by both of go-multi's commands.
package version

// Name is what both commands print.
const Name = "go-multi"
