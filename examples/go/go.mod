module upstage

go 1.19
