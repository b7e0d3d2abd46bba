//! A static site served by std alone, laid out the way small Rust servers are: `index.html` and
//! `static/` next to `Cargo.toml`, read from the working directory on every request (so the image
//! must hold them at /app, where it starts).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

fn respond(mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (file, kind) = match path {
        "/" => ("index.html", "text/html"),
        "/static/style.css" => ("static/style.css", "text/css"),
        _ => ("", "text/plain"),
    };
    let (status, body) = match std::fs::read(file) {
        Ok(bytes) if !file.is_empty() => ("200 OK", bytes),
        Ok(_) => ("404 Not Found", b"not found\n".to_vec()),
        Err(err) => ("500 Internal Server Error", format!("read {file}: {err}\n").into_bytes()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_string());
    let listener = TcpListener::bind(format!("0.0.0.0:{port}"))?;
    eprintln!("pages listening on :{port}");
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(err) = respond(stream) {
                        eprintln!("request failed: {err}");
                    }
                });
            }
            Err(err) => eprintln!("accept failed: {err}"),
        }
    }
    Ok(())
}
