module github.com/upstage-rs/upstage/examples/go

go 1.19
