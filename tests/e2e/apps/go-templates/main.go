// A server rendering templates/*.html with html/template, parsed from the working directory at
// start, as small Go web apps do; static/ is served as files.
package main

import (
	"html/template"
	"log"
	"net/http"
	"os"
)

func main() {
	pages := template.Must(template.ParseGlob("templates/*.html"))
	http.Handle("/static/", http.StripPrefix("/static/", http.FileServer(http.Dir("static"))))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		name := "index.html"
		if r.URL.Path == "/about" {
			name = "about.html"
		} else if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if err := pages.ExecuteTemplate(w, name, map[string]string{"Lang": "go"}); err != nil {
			log.Printf("render %s: %v", name, err)
		}
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Printf("gotemplates listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
