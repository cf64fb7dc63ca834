// Command chat streams one answer through the upstage Go binding:
//
//	chat BASE_URL MODEL PROMPT
//
// It prints exactly the answer's tokens to stdout as they arrive (plus a final newline when
// stdout is a terminal). On failure the tokens already printed stay, stderr gets one line
// "error[<status name>]: <message>" and the exit code is 1; wrong arguments exit with 2.
// The API key, when needed, comes from UPSTAGE_API_KEY. Interrupting (Ctrl-C) cancels the
// stream.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	upstage "github.com/upstage-rs/upstage/examples/go"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program, apart from the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 3 {
		fmt.Fprintln(stderr, "usage: chat BASE_URL MODEL PROMPT")
		return 2
	}
	baseURL, model, prompt := args[0], args[1], args[2]

	client, err := upstage.NewClient(upstage.Options{BaseURL: baseURL})
	if err != nil {
		return fail(stderr, err)
	}
	defer client.Close()

	stream, err := client.Stream(ctx, upstage.Request{
		Model:    model,
		Messages: []upstage.Message{upstage.User(prompt)},
	})
	if err != nil {
		return fail(stderr, err)
	}
	defer stream.Close()

	for stream.Next() {
		if _, err := io.WriteString(stdout, stream.Text()); err != nil {
			fmt.Fprintf(stderr, "error[io]: %v\n", err)
			return 1
		}
	}
	if err := stream.Err(); err != nil {
		return fail(stderr, err)
	}
	if isTerminal(stdout) {
		fmt.Fprintln(stdout)
	}
	return 0
}

// oneLine keeps a message on its line.
var oneLine = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// fail prints the one error line and returns the exit code for errors.
func fail(stderr io.Writer, err error) int {
	var e *upstage.Error
	if errors.As(err, &e) {
		message := e.Message
		if message == "" {
			message = e.Status.String()
		}
		fmt.Fprintf(stderr, "error[%s]: %s\n", e.Status, oneLine.Replace(message))
	} else {
		fmt.Fprintf(stderr, "error[unknown]: %v\n", err)
	}
	return 1
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
