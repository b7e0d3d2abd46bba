// A server that cannot start without its flags, the way many public Go services are written:
// `greeter -greeting WORD` answers WORD on / (and the MODE it runs in); without -greeting it
// prints its usage and exits 2. It reads the port from $PORT.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func main() {
	greeting := flag.String("greeting", "", "what / answers (required)")
	flag.Parse()
	if *greeting == "" {
		fmt.Fprintln(os.Stderr, "greeter: -greeting is required")
		flag.Usage()
		os.Exit(2)
	}
	port := os.Getenv("PORT")
	if port == "" {
		fmt.Fprintln(os.Stderr, "greeter: PORT is not set")
		os.Exit(2)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s (mode %s)\n", *greeting, os.Getenv("MODE"))
	})
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
