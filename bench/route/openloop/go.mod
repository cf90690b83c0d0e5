module edgerim.local/bench/route/openloop

go 1.22
