// Package greeting is a tiny third-party-style module, vendored into go-hello so the example
// builds offline (GOPROXY=off, -mod=vendor) exactly as a real vendored dependency would.
package greeting

import "fmt"

// Hello returns the greeting Tempa's example apps answer with.
func Hello(language string) string {
	return fmt.Sprintf("hello from tempa (%s)", language)
}
