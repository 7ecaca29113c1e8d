#!/usr/bin/python3
"""
test_languages.py - the conformance matrix: every language of the service's
languages file, run end to end through nginx + runboxd (started once by
harness.Service), checked row by row from ONE table of small programs per
language (PROGRAMS below; docs/LANGUAGES.md states the same per language).

Rows, for each language:
  present  the language answers in GET /api/v1/languages with a version
  sample   its config's sample runs ok and says Hello
  echo     a program copies stdin to stdout, byte for byte
  args     the request's args reach the program, one per line
  exit     exit code 3 is nonzero_exit 3
  error    a runtime error is nonzero_exit or signaled (the one stated)
           with the language's own message in stderr
  threads  4 threads (or the language's unit of concurrency: processes,
           tasks, coroutines) started and joined within the language's
           default limits (its `processes` default counts threads)
  spin     a CPU loop under a 1 s CPU limit is cpu_time_exceeded, and the
           run took under 3 s of wall time
  hog      a memory hog under a 64-256 MiB limit is memory_exceeded, or
           the runtime's own out-of-memory error as nonzero_exit (stated)
  syntax   (compiled languages) a syntax error is compile_error, and the
           compiler's message names the line
  judge    (compiled languages) judge mode compiled the program once and
           ran it once per test (echo, args, exit, error and threads are
           the tests of one request)

Each language's main program does every row: its first argument chooses
(echo, args, exit, error, threads, spin, hog).  One judge request holds the
rows that share the default limits, another the two rows with tight limits
(spin and hog, each in a request of its own: a hog filling memory under
a 1 s CPU limit would race the CPU limit), so a compiled language is
compiled five times, not nine.
Rows a language cannot have (bc has no arguments; asm has no error
message; ...) are stated in its table entry, printed as n/a and not
counted.  A row whose language is configured but absent fails, unless
RUNBOX_LANGUAGES (the variable autogen.sh installs toolchains by) leaves
the language out: then its rows are skipped, and a skipped row never counts
as passed.

The requests are sent concurrently, by a pool as large as the service's
slots, most expensive first; every row is then checked from the answers.
Names of languages given as arguments test only those.

Exit status: 0 when every check passed, 1 otherwise, 77 (skip) when the
service cannot run here.
Environment (from the Makefile): top_srcdir, top_builddir, NGINX, PYTHON3,
RUNBOX_LANGUAGES.
"""

import concurrent.futures
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import short, fail, check, eq  # noqa: E402,F401

MiB = 1 << 20

# The suite's service: as many slots as the machine has cores (the runs
# are CPU-bound: more would only slow each run down, and the spin row's
# wall-time bound must hold), and room for judge requests of slow
# compilers.
SLOTS = max(2, os.cpu_count() or 2)
OVERRIDES = {"slots": SLOTS, "queue": 4 * SLOTS, "queue_timeout_ms": 120000,
             "judge": {"max_total_wall_ms": 120000}}

ECHO_IN = "first line\nsecond line: \u00fcn\u00efc\u00f6d\u00e9\n\n  indented, last\n"
ARGS = ["one", "two words", "\u00fcn\u00ef", "--flag=1"]
THREADS_OUT = "joined 4\n"
SPIN_LIMITS = {"cpu_time_ms": 1000, "wall_time_ms": 10000}
SPIN_WALL_MAX_MS = 3000
MAIN_ROWS = ("echo", "args", "exit", "error", "threads")

# ---- the table -------------------------------------------------------------
#
# Per language:
#   main     the program; its first argument picks the row
#   error    (status, stderr regex): how its runtime error ends
#   hog      (memory limit in MiB, status or a tuple of the statuses that
#            may end it, stderr regex of its nonzero_exit or None)
#   threads  what the threads row starts (said in the docs)
#   syntax   (code, regex the compiler's stderr must match: it names the line)
#   na       {row: why} for rows the language cannot have
#   rows     {row: code} for rows that need a program of their own
# Languages that share a program (c and c-clang...) share the entry.

PROGRAMS = {}

C_MAIN = r'''#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *p)
{
	*(int *)p = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "echo")) {
		int c;
		while ((c = getchar()) != EOF)
			putchar(c);
	} else if (!strcmp(m, "args")) {
		for (int i = 2; i < argc; i++)
			puts(argv[i]);
	} else if (!strcmp(m, "exit")) {
		return 3;
	} else if (!strcmp(m, "error")) {
		char *p = getenv("NO_SUCH_VARIABLE");
		assert(p != NULL);
	} else if (!strcmp(m, "threads")) {
		pthread_t t[4];
		int done[4] = { 0 }, n = 0;
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, work, &done[i]);
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			n += done[i];
		}
		printf("joined %d\n", n);
	} else if (!strcmp(m, "spin")) {
		for (volatile unsigned long x = 0;; x++)
			;
	} else if (!strcmp(m, "hog")) {
		static void *volatile head;
		for (;;) {
			void **b = malloc(1 << 20);
			memset(b, 1, 1 << 20);
			*b = head;
			head = b;
		}
	}
	return 0;
}
'''
C_ENTRY = dict(
    main=C_MAIN,
    error=("signaled", r"Assertion `p != NULL' failed"),
    hog=(128, "memory_exceeded", None),
    threads="POSIX threads",
    syntax=("int main(void)\n{\n\treturn 0\n}\n", r"main\.c:3:\d+: error"))
PROGRAMS["c"] = C_ENTRY
PROGRAMS["c-clang"] = dict(C_ENTRY, syntax=(C_ENTRY["syntax"][0], r"main\.c:3:\d+: error"))

CPP_MAIN = r'''#include <iostream>
#include <iterator>
#include <list>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <atomic>

int main(int argc, char **argv)
{
	std::string m = argc > 1 ? argv[1] : "";
	if (m == "echo") {
		std::cout << std::cin.rdbuf();
	} else if (m == "args") {
		for (int i = 2; i < argc; i++)
			std::cout << argv[i] << '\n';
	} else if (m == "exit") {
		return 3;
	} else if (m == "error") {
		std::vector<int> v;
		return v.at(argc);
	} else if (m == "threads") {
		std::atomic<int> n{0};
		std::vector<std::thread> ts;
		for (int i = 0; i < 4; i++)
			ts.emplace_back([&n] { n++; });
		for (auto &t : ts)
			t.join();
		std::cout << "joined " << n << '\n';
	} else if (m == "spin") {
		for (volatile unsigned long x = 0;; x++)
			;
	} else if (m == "hog") {
		std::list<std::string> l;
		for (;;)
			l.emplace_back(1 << 20, 'x');
	}
	return 0;
}
'''
CPP_ENTRY = dict(
    main=CPP_MAIN,
    error=("signaled", r"terminate called after throwing an instance of 'std::out_of_range'"),
    hog=(128, "memory_exceeded", None),
    threads="std::thread",
    syntax=("int main()\n{\n\treturn 0\n}\n", r"main\.cpp:3:\d+: error"))
PROGRAMS["cpp"] = CPP_ENTRY
PROGRAMS["cpp-clang"] = CPP_ENTRY

PY_MAIN = r'''import sys
import threading

m = sys.argv[1] if len(sys.argv) > 1 else ""
if m == "echo":
    sys.stdout.buffer.write(sys.stdin.buffer.read())
elif m == "args":
    for a in sys.argv[2:]:
        print(a)
elif m == "exit":
    sys.exit(3)
elif m == "error":
    raise ValueError("boom")
elif m == "threads":
    done = []
    ts = [threading.Thread(target=done.append, args=(1,)) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("joined", sum(done))
elif m == "spin":
    while True:
        pass
elif m == "hog":
    hoard = []
    while True:
        hoard.append(b"\x01" * (1 << 20))
'''
PROGRAMS["python3"] = dict(main=PY_MAIN, error=("nonzero_exit", r"ValueError: boom"),
                           hog=(128, "memory_exceeded", None), threads="threading")
PROGRAMS["pypy3"] = PROGRAMS["python3"]

SH_MAIN = r'''case "${1-}" in
echo)
	while IFS= read -r line; do
		printf '%s\n' "$line"
	done ;;
args)
	shift
	for a in "$@"; do
		printf '%s\n' "$a"
	done ;;
exit)
	exit 3 ;;
error)
	echo "${NO_SUCH_VARIABLE:?is not set}" ;;
threads)
	pids=
	for i in 1 2 3 4; do
		( : ) &
		pids="$pids $!"
	done
	n=0
	for p in $pids; do
		wait "$p" && n=$((n + 1))
	done
	echo "joined $n" ;;
spin)
	while :; do :; done ;;
hog)
	s=x
	while :; do s="$s$s"; done ;;
esac
'''
PROGRAMS["sh"] = dict(main=SH_MAIN, error=("nonzero_exit", r"NO_SUCH_VARIABLE: is not set"),
                      hog=(128, "memory_exceeded", None), threads="background processes (&, wait)")
BASH_MAIN = SH_MAIN.replace('''	pids=
	for i in 1 2 3 4; do
		( : ) &
		pids="$pids $!"
	done
	n=0
	for p in $pids; do''', '''	pids=()
	for i in {1..4}; do
		( : ) &
		pids+=("$!")
	done
	n=0
	for p in "${pids[@]}"; do''')
BASH_MAIN = BASH_MAIN.replace('''	s=x
	while :; do s="$s$s"; done ;;''', '''	printf -v s '%1048576s' x
	hoard=()
	while :; do hoard+=("$s${#hoard[@]}"); done ;;''')
PROGRAMS["bash"] = dict(main=BASH_MAIN, error=("nonzero_exit", r"NO_SUCH_VARIABLE: is not set"),
                        hog=(128, "memory_exceeded", None), threads="background processes (&, wait)")

JS_MAIN = r'''const m = process.argv[2] || "";
if (m === "echo") {
  process.stdout.write(require("fs").readFileSync(0));
} else if (m === "args") {
  for (const a of process.argv.slice(3)) console.log(a);
} else if (m === "exit") {
  process.exit(3);
} else if (m === "error") {
  null.boom();
} else if (m === "threads") {
  const { Worker } = require("worker_threads");
  let n = 0, ended = 0;
  for (let i = 0; i < 4; i++) {
    const w = new Worker("require('worker_threads').parentPort.postMessage(1)", { eval: true });
    w.on("message", (v) => { n += v; });
    w.on("exit", () => { if (++ended === 4) console.log(`joined ${n}`); });
  }
} else if (m === "spin") {
  for (;;);
} else if (m === "hog") {
  const hoard = [];
  for (;;) hoard.push(new Array(1 << 17).fill(hoard.length + 0.5));
}
'''
PROGRAMS["javascript"] = dict(
    main=JS_MAIN,
    error=("nonzero_exit", r"TypeError: Cannot read properties of null"),
    hog=(128, "memory_exceeded", None), threads="worker_threads")

TS_MAIN = r'''import * as fs from "fs";
import { Worker } from "worker_threads";

const m: string = process.argv[2] || "";
if (m === "echo") {
  process.stdout.write(fs.readFileSync(0));
} else if (m === "args") {
  for (const a of process.argv.slice(3)) console.log(a);
} else if (m === "exit") {
  process.exit(3);
} else if (m === "error") {
  const o: { f?: () => void } = JSON.parse("{}");
  o.f!();
} else if (m === "threads") {
  let n = 0, ended = 0;
  for (let i = 0; i < 4; i++) {
    const w = new Worker("require('worker_threads').parentPort.postMessage(1)", { eval: true });
    w.on("message", (v: number) => { n += v; });
    w.on("exit", () => { if (++ended === 4) console.log(`joined ${n}`); });
  }
} else if (m === "spin") {
  for (;;);
} else if (m === "hog") {
  const hoard: number[][] = [];
  for (;;) hoard.push(new Array<number>(1 << 17).fill(hoard.length + 0.5));
}
'''
PROGRAMS["typescript"] = dict(
    main=TS_MAIN,
    error=("nonzero_exit", r"TypeError: o\.f is not a function"),
    hog=(128, "memory_exceeded", None), threads="worker_threads",
    syntax=("const a: number = 1;\nconsole.log(a);\nlet b = ;\n", r"main\.ts\(3,\d+\): error TS"))

JAVA_MAIN = r'''import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public class Main {
	public static void main(String[] args) throws Exception {
		String m = args.length > 0 ? args[0] : "";
		switch (m) {
		case "echo":
			System.out.write(System.in.readAllBytes());
			System.out.flush();
			break;
		case "args":
			for (int i = 1; i < args.length; i++)
				System.out.println(args[i]);
			break;
		case "exit":
			System.exit(3);
		case "error":
			throw new IllegalStateException("boom");
		case "threads": {
			int[] done = new int[4];
			Thread[] ts = new Thread[4];
			for (int i = 0; i < 4; i++) {
				final int k = i;
				ts[i] = new Thread(() -> done[k] = 1);
				ts[i].start();
			}
			int n = 0;
			for (int i = 0; i < 4; i++) {
				ts[i].join();
				n += done[i];
			}
			System.out.println("joined " + n);
			break;
		}
		case "spin":
			for (long x = 0;; x++)
				;
		case "hog": {
			List<long[]> hoard = new ArrayList<>();
			for (;;) {
				long[] b = new long[1 << 17];
				Arrays.fill(b, hoard.size());
				hoard.add(b);
			}
		}
		}
	}
}
'''
JVM_OOM = r"java\.lang\.OutOfMemoryError: Java heap space"
PROGRAMS["java"] = dict(
    main=JAVA_MAIN,
    error=("nonzero_exit", r'Exception in thread "main" java\.lang\.IllegalStateException: boom'),
    hog=(256, "nonzero_exit", JVM_OOM), threads="java.lang.Thread",
    syntax=("public class Main {\n\tpublic static void main(String[] a) {\n\t\tint x = 1\n\t}\n}\n",
            r"Main\.java:3: error"))

KOTLIN_MAIN = r'''import kotlin.concurrent.thread
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    when (args.getOrElse(0) { "" }) {
        "echo" -> { System.out.write(System.`in`.readBytes()); System.out.flush() }
        "args" -> args.drop(1).forEach { println(it) }
        "exit" -> exitProcess(3)
        "error" -> throw IllegalStateException("boom")
        "threads" -> {
            val done = IntArray(4)
            val ts = (0 until 4).map { i -> thread { done[i] = 1 } }
            ts.forEach { it.join() }
            println("joined ${done.sum()}")
        }
        "spin" -> { var x = 0L; while (true) x++ }
        "hog" -> {
            val hoard = ArrayList<LongArray>()
            while (true) hoard.add(LongArray(1 shl 17) { hoard.size.toLong() })
        }
    }
}
'''
PROGRAMS["kotlin"] = dict(
    main=KOTLIN_MAIN,
    error=("nonzero_exit", r'Exception in thread "main" java\.lang\.IllegalStateException: boom'),
    hog=(256, "nonzero_exit", JVM_OOM), threads="kotlin.concurrent.thread",
    syntax=("fun main() {\n    val x = 1\n    println(x +)\n}\n", r"main\.kt:3:\d+: error"))

SCALA_MAIN = r'''object Main {
  def main(args: Array[String]): Unit = {
    args.headOption.getOrElse("") match {
      case "echo" =>
        val buf = new Array[Byte](65536)
        var n = System.in.read(buf)
        while (n >= 0) { System.out.write(buf, 0, n); n = System.in.read(buf) }
        System.out.flush()
      case "args" => args.drop(1).foreach(println)
      case "exit" => sys.exit(3)
      case "error" => throw new IllegalStateException("boom")
      case "threads" =>
        val done = new Array[Int](4)
        val ts = (0 until 4).map(i => new Thread(new Runnable { def run(): Unit = done(i) = 1 }))
        ts.foreach(_.start())
        ts.foreach(_.join())
        println("joined " + done.sum)
      case "spin" => var x = 0L; while (true) x += 1
      case "hog" =>
        val hoard = new java.util.ArrayList[Array[Long]]()
        while (true) hoard.add(Array.fill(1 << 17)(hoard.size.toLong))
      case _ =>
    }
  }
}
'''
PROGRAMS["scala"] = dict(
    main=SCALA_MAIN,
    error=("nonzero_exit", r'Exception in thread "main" java\.lang\.IllegalStateException: boom'),
    hog=(256, "nonzero_exit", JVM_OOM), threads="java.lang.Thread",
    syntax=("object Main {\n  def main(args: Array[String]): Unit = {\n    val x = (1 +\n  }\n}\n",
            r"main\.scala:[34]: error"))

GROOVY_MAIN = r'''def m = args.length > 0 ? args[0] : ""
switch (m) {
case "echo":
    System.out.write(System.in.bytes)
    System.out.flush()
    break
case "args":
    args.drop(1).each { println it }
    break
case "exit":
    System.exit(3)
case "error":
    throw new IllegalStateException("boom")
case "threads":
    def done = new int[4]
    def ts = (0..3).collect { i -> Thread.start { done[i] = 1 } }
    ts*.join()
    println "joined ${done.sum()}"
    break
case "spin":
    long x = 0
    while (true) x++
case "hog":
    def hoard = []
    while (true) {
        long[] b = new long[1 << 17]
        Arrays.fill(b, (long) hoard.size())
        hoard << b
    }
}
'''
PROGRAMS["groovy"] = dict(
    main=GROOVY_MAIN,
    error=("nonzero_exit", r"java\.lang\.IllegalStateException: boom"),
    hog=(256, "nonzero_exit", JVM_OOM), threads="java.lang.Thread")

CLOJURE_MAIN = r'''(let [[m & more] *command-line-args*]
  (case m
    "echo" (let [buf (byte-array 65536)]
             (loop []
               (let [n (.read System/in buf)]
                 (when (pos? n)
                   (.write System/out buf 0 n)
                   (recur))))
             (.flush System/out))
    "args" (doseq [a more] (println a))
    "exit" (System/exit 3)
    "error" (throw (IllegalStateException. "boom"))
    "threads" (let [n (atom 0)
                    ts (doall (for [_ (range 4)]
                                (doto (Thread. (fn [] (swap! n inc))) (.start))))]
                (doseq [t ts] (.join t))
                (println "joined" @n))
    "spin" (loop [x 0] (recur (inc x)))
    "hog" (loop [hoard '()]
            (recur (cons (long-array (bit-shift-left 1 17) (count hoard)) hoard)))
    nil))
'''
PROGRAMS["clojure"] = dict(
    main=CLOJURE_MAIN,
    error=("nonzero_exit", r"IllegalStateException.*\n?.*boom|boom[\s\S]*IllegalStateException"),
    hog=(256, "nonzero_exit", r"OutOfMemoryError"), threads="java.lang.Thread")

GO_MAIN = r'''package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

var sink int

func main() {
	m := ""
	if len(os.Args) > 1 {
		m = os.Args[1]
	}
	switch m {
	case "echo":
		io.Copy(os.Stdout, os.Stdin)
	case "args":
		for _, a := range os.Args[2:] {
			fmt.Println(a)
		}
	case "exit":
		os.Exit(3)
	case "error":
		var v []int
		fmt.Println(v[len(os.Args)])
	case "threads":
		var wg sync.WaitGroup
		var mu sync.Mutex
		n := 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mu.Lock()
				n++
				mu.Unlock()
			}()
		}
		wg.Wait()
		fmt.Printf("joined %d\n", n)
	case "spin":
		for {
			sink++
		}
	case "hog":
		var hoard [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			hoard = append(hoard, b)
		}
	}
}
'''
PROGRAMS["go"] = dict(
    main=GO_MAIN,
    error=("nonzero_exit", r"panic: runtime error: index out of range"),
    hog=(128, "memory_exceeded", None), threads="goroutines",
    syntax=("package main\n\nfunc main() {\n\tx := \n}\n", r"main\.go:[45]:\d+: syntax error"))

RUST_MAIN = r'''use std::io::{Read, Write};
use std::thread;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(|s| s.as_str()).unwrap_or("") {
        "echo" => {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).unwrap();
            std::io::stdout().write_all(&b).unwrap();
        }
        "args" => {
            for a in &args[2..] {
                println!("{}", a);
            }
        }
        "exit" => std::process::exit(3),
        "error" => {
            let v: Vec<i32> = Vec::new();
            println!("{}", v[args.len()]);
        }
        "threads" => {
            let hs: Vec<_> = (0..4).map(|_| thread::spawn(|| 1)).collect();
            let n: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            println!("joined {}", n);
        }
        "spin" => loop {},
        "hog" => {
            let mut hoard = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
            }
        }
        _ => {}
    }
}
'''
PROGRAMS["rust"] = dict(
    main=RUST_MAIN,
    error=("nonzero_exit", r"panicked at 'index out of bounds"),
    hog=(128, "memory_exceeded", None), threads="std::thread",
    syntax=("fn main() {\n    let x = 1;\n    let y = x +;\n}\n", r"main\.rs:3:\d+"))

RUBY_MAIN = r'''m = ARGV[0] || ""
case m
when "echo"
  $stdout.binmode
  $stdout.write($stdin.binmode.read)
when "args"
  ARGV[1..].each { |a| puts a }
when "exit"
  exit 3
when "error"
  raise ArgumentError, "boom"
when "threads"
  n = 0
  mu = Mutex.new
  4.times.map { Thread.new { mu.synchronize { n += 1 } } }.each(&:join)
  puts "joined #{n}"
when "spin"
  loop {}
when "hog"
  hoard = []
  loop { hoard << "x" * (1 << 20) }
end
'''
PROGRAMS["ruby"] = dict(main=RUBY_MAIN, error=("nonzero_exit", r"boom \(ArgumentError\)"),
                        hog=(128, "memory_exceeded", None), threads="Thread")

PHP_MAIN = r'''<?php
$m = $argv[1] ?? "";
switch ($m) {
case "echo":
    echo stream_get_contents(STDIN);
    break;
case "args":
    foreach (array_slice($argv, 2) as $a)
        echo $a, "\n";
    break;
case "exit":
    exit(3);
case "error":
    throw new RuntimeException("boom");
case "threads":
    $pids = [];
    for ($i = 0; $i < 4; $i++) {
        $pid = pcntl_fork();
        if ($pid === 0)
            exit(0);
        $pids[] = $pid;
    }
    $n = 0;
    foreach ($pids as $pid) {
        pcntl_waitpid($pid, $status);
        if (pcntl_wifexited($status) && pcntl_wexitstatus($status) === 0)
            $n++;
    }
    echo "joined $n\n";
    break;
case "spin":
    for (;;);
case "hog":
    $hoard = [];
    for (;;)
        $hoard[] = str_repeat("x", 1 << 20);
}
'''
PROGRAMS["php"] = dict(main=PHP_MAIN,
                       error=("nonzero_exit", r"Uncaught RuntimeException: boom"),
                       hog=(128, "nonzero_exit", r"Allowed memory size of \d+ bytes exhausted"),
                       threads="processes (pcntl_fork)")

PERL_MAIN = r'''use strict;
use warnings;
use threads;

my $m = shift(@ARGV) // "";
if ($m eq "echo") {
    binmode STDIN;
    binmode STDOUT;
    local $/;
    my $in = <STDIN>;
    print $in if defined $in;
} elsif ($m eq "args") {
    print "$_\n" for @ARGV;
} elsif ($m eq "exit") {
    exit 3;
} elsif ($m eq "error") {
    my %h;
    $h{x}->method();
} elsif ($m eq "threads") {
    my @ts = map { threads->create(sub { 1 }) } 1 .. 4;
    my $n = 0;
    $n += $_->join() for @ts;
    print "joined $n\n";
} elsif ($m eq "spin") {
    1 while 1;
} elsif ($m eq "hog") {
    my @hoard;
    push @hoard, "x" x (1 << 20) while 1;
}
'''
PROGRAMS["perl"] = dict(main=PERL_MAIN,
                        error=("nonzero_exit", r'Can\'t call method "method" on an undefined value at .*line 18'),
                        hog=(128, "memory_exceeded", None), threads="threads (ithreads)")

LUA_MAIN = r'''local m = arg[1] or ""
if m == "echo" then
  io.write(io.read("a"))
elseif m == "args" then
  for i = 2, #arg do print(arg[i]) end
elseif m == "exit" then
  os.exit(3)
elseif m == "error" then
  local t = nil
  print(t.field)
elseif m == "threads" then
  local n = 0
  local cs = {}
  for i = 1, 4 do cs[i] = coroutine.create(function() n = n + 1 end) end
  for i = 1, 4 do assert(coroutine.resume(cs[i])) end
  print("joined " .. n)
elseif m == "spin" then
  while true do end
elseif m == "hog" then
  local hoard = {}
  while true do hoard[#hoard + 1] = string.rep("x", 1 << 20) .. #hoard end
end
'''
PROGRAMS["lua"] = dict(main=LUA_MAIN, error=("nonzero_exit", r"attempt to index a nil value"),
                       hog=(128, "memory_exceeded", None),
                       threads="coroutines (Lua has no threads)")

HASKELL_MAIN = r'''import Control.Concurrent
import Control.Monad
import qualified Data.ByteString as B
import System.Environment
import System.Exit

spin :: Int -> Int
spin x = x `seq` spin (x + 1)

hog :: [B.ByteString] -> Int -> IO ()
hog hoard i = do
  let b = B.replicate (1024 * 1024) (fromIntegral i)
  when (i `mod` 100000 == 99999) (print (length hoard))
  B.length b `seq` hog (b : hoard) (i + 1)

main :: IO ()
main = do
  args <- getArgs
  case args of
    ("echo" : _) -> B.getContents >>= B.putStr
    ("args" : rest) -> mapM_ putStrLn rest
    ("exit" : _) -> exitWith (ExitFailure 3)
    ("error" : _) -> print (head (drop 5 args))
    ("threads" : _) -> do
      vs <- forM [1 .. 4 :: Int] $ \_ -> do
        v <- newEmptyMVar
        _ <- forkIO (putMVar v (1 :: Int))
        return v
      n <- sum <$> mapM takeMVar vs
      putStrLn ("joined " ++ show n)
    ("spin" : _) -> print (spin 0)
    ("hog" : _) -> hog [] 0
    _ -> return ()
'''
PROGRAMS["haskell"] = dict(
    main=HASKELL_MAIN, error=("nonzero_exit", r"Prelude\.head: empty list"),
    hog=(128, "memory_exceeded", None), threads="forkIO (threaded RTS)",
    syntax=("main :: IO ()\nmain = do\n  let x = (1 +\n  print x\n", r"main\.hs:[34]:\d+: error"))

OCAML_MAIN = r'''let () =
  let argv = Sys.argv in
  let m = if Array.length argv > 1 then argv.(1) else "" in
  match m with
  | "echo" ->
    (try while true do print_char (input_char stdin) done with End_of_file -> ())
  | "args" -> Array.iteri (fun i a -> if i >= 2 then print_endline a) argv
  | "exit" -> exit 3
  | "error" -> print_int (List.hd (List.tl [Array.length argv]))
  | "threads" ->
    let n = ref 0 in
    let mu = Mutex.create () in
    let ts = List.init 4 (fun _ ->
      Thread.create (fun () -> Mutex.lock mu; incr n; Mutex.unlock mu) ()) in
    List.iter Thread.join ts;
    Printf.printf "joined %d\n" !n
  | "spin" -> let rec loop x = loop (x + 1) in loop 0
  | "hog" ->
    let hoard = ref [] in
    while true do hoard := Bytes.make (1 lsl 20) 'x' :: !hoard done
  | _ -> ()
'''
PROGRAMS["ocaml"] = dict(
    main=OCAML_MAIN, error=("nonzero_exit", r'Fatal error: exception Failure\("hd"\)'),
    hog=(128, "memory_exceeded", None), threads="Thread (threads library)",
    syntax=("let () =\n  let x = 1 in\n  print_int (x +)\n", r'File "main\.ml", line 3'))

CSHARP_MAIN = r'''using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

class Program
{
	static int Main(string[] a)
	{
		string m = a.Length > 0 ? a[0] : "";
		switch (m) {
		case "echo":
			using (var i = Console.OpenStandardInput())
			using (var o = Console.OpenStandardOutput())
				i.CopyTo(o);
			break;
		case "args":
			for (int k = 1; k < a.Length; k++)
				Console.WriteLine(a[k]);
			break;
		case "exit":
			return 3;
		case "error":
			throw new InvalidOperationException("boom");
		case "threads": {
			int n = 0;
			var ts = new List<Thread>();
			for (int k = 0; k < 4; k++) {
				var t = new Thread(() => Interlocked.Increment(ref n));
				t.Start();
				ts.Add(t);
			}
			foreach (var t in ts)
				t.Join();
			Console.WriteLine("joined " + n);
			break;
		}
		case "spin":
			for (long x = 0;; x++)
				;
		case "hog": {
			var hoard = new List<long[]>();
			for (;;) {
				var b = new long[1 << 17];
				for (int k = 0; k < b.Length; k++)
					b[k] = hoard.Count;
				hoard.Add(b);
			}
		}
		}
		return 0;
	}
}
'''
PROGRAMS["csharp"] = dict(
    main=CSHARP_MAIN,
    error=("nonzero_exit", r"System\.InvalidOperationException: boom"),
    hog=(256, "memory_exceeded", None), threads="System.Threading.Thread",
    syntax=("class Program\n{\n\tstatic void Main() { int x = 1 }\n}\n", r"main\.cs\(3,\d+\): error"))

PASCAL_MAIN = r'''program main;
{$mode objfpc}{$H+}
uses cthreads, Classes, SysUtils;

type
  TWorker = class(TThread)
  protected
    procedure Execute; override;
  end;

var
  Count: LongInt = 0;

procedure TWorker.Execute;
begin
  InterLockedIncrement(Count);
end;

var
  m, line: string;
  i, z: Integer;
  ws: array[0..3] of TWorker;
  hoard: TList;
  p: Pointer;
begin
  if ParamCount >= 1 then m := ParamStr(1) else m := '';
  if m = 'echo' then
    while not EOF(Input) do begin
      ReadLn(line);
      WriteLn(line);
    end
  else if m = 'args' then
    for i := 2 to ParamCount do WriteLn(ParamStr(i))
  else if m = 'exit' then
    Halt(3)
  else if m = 'error' then begin
    z := Length(m) - 5;
    WriteLn(10 div z);
  end else if m = 'threads' then begin
    for i := 0 to 3 do ws[i] := TWorker.Create(False);
    for i := 0 to 3 do begin ws[i].WaitFor; ws[i].Free; end;
    WriteLn('joined ', Count);
  end else if m = 'spin' then
    while True do Inc(i)
  else if m = 'hog' then begin
    hoard := TList.Create;
    while True do begin
      GetMem(p, 1 shl 20);
      FillChar(p^, 1 shl 20, 1);
      hoard.Add(p);
    end;
  end;
end.
'''
PROGRAMS["pascal"] = dict(
    main=PASCAL_MAIN, error=("nonzero_exit", r"EDivByZero: Division by zero"),
    hog=(128, "memory_exceeded", None), threads="TThread (cthreads)",
    syntax=("program main;\nbegin\n  WriteLn('a')\n  WriteLn('b');\nend.\n", r"main\.pas\([34],\d+\) (Fatal|Error)"))

FORTRAN_MAIN = r'''program main
  use omp_lib
  implicit none
  type node
    integer, allocatable :: d(:)
    type(node), pointer :: next => null()
  end type
  character(len=4096) :: m, a
  character(len=256) :: buf
  integer :: i, n, ios, sz
  integer, volatile :: v, z
  type(node), pointer :: head => null(), p

  m = ''
  if (command_argument_count() >= 1) call get_command_argument(1, m)
  select case (trim(m))
  case ('echo')
    do
      read (*, '(a)', advance='no', iostat=ios, size=sz) buf
      if (is_iostat_end(ios)) exit
      write (*, '(a)', advance='no') buf(1:sz)
      if (is_iostat_eor(ios)) write (*, '(a)') ''
    end do
  case ('args')
    do i = 2, command_argument_count()
      call get_command_argument(i, a)
      print '(a)', trim(a)
    end do
  case ('exit')
    stop 3
  case ('error')
    z = len_trim(m) - 5
    print *, 10 / z
  case ('threads')
    n = 0
    !$omp parallel num_threads(4) reduction(+:n)
    n = n + 1
    !$omp end parallel
    print '(a,i0)', 'joined ', n
  case ('spin')
    v = 0
    do
      v = v + 1
    end do
  case ('hog')
    do
      allocate (p)
      allocate (p%d(262144))
      p%d = 1
      p%next => head
      head => p
    end do
  end select
end program main
'''
PROGRAMS["fortran"] = dict(
    main=FORTRAN_MAIN, error=("signaled", r"Program received signal SIGFPE"),
    hog=(128, "memory_exceeded", None), threads="OpenMP (-fopenmp)",
    syntax=("program main\n  integer :: x\n  x = (1 +\n  print *, x\nend program main\n",
            r"main\.f90:3:\d+"))

D_MAIN = r'''import core.atomic;
import core.thread;
import std.stdio;

int main(string[] args)
{
    string m = args.length > 1 ? args[1] : "";
    switch (m) {
    case "echo": {
        foreach (ubyte[] chunk; stdin.byChunk(65536))
            stdout.rawWrite(chunk);
        break;
    }
    case "args": {
        foreach (a; args[2 .. $])
            writeln(a);
        break;
    }
    case "exit":
        return 3;
    case "error": {
        int[] v;
        writeln(v[args.length]);
        break;
    }
    case "threads": {
        shared int n;
        Thread[] ts;
        foreach (i; 0 .. 4) {
            auto t = new Thread({ atomicOp!"+="(n, 1); });
            t.start();
            ts ~= t;
        }
        foreach (t; ts)
            t.join();
        writeln("joined ", atomicLoad(n));
        break;
    }
    case "spin": {
        while (true) {
        }
    }
    case "hog": {
        ubyte[][] hoard;
        while (true) {
            auto b = new ubyte[1 << 20];
            b[] = 1;
            hoard ~= b;
        }
    }
    default:
        break;
    }
    return 0;
}
'''
PROGRAMS["d"] = dict(
    main=D_MAIN, error=("nonzero_exit", r"core\.exception\.ArrayIndexError|Range ?[Ee]rror|out of bounds"),
    hog=(128, "memory_exceeded", None), threads="core.thread",
    syntax=("import std.stdio;\nvoid main() {\n    int x = 1\n    writeln(x);\n}\n", r"main\.d:[34]:\d+: error"))

ADA_MAIN = r'''with Ada.Command_Line; use Ada.Command_Line;
with Ada.Streams; use Ada.Streams;
with Ada.Text_IO; use Ada.Text_IO;
with Ada.Text_IO.Text_Streams; use Ada.Text_IO.Text_Streams;

procedure Main is
   function Mode return String is
   begin
      if Argument_Count >= 1 then
         return Argument (1);
      end if;
      return "";
   end Mode;
   M : constant String := Mode;
begin
   if M = "echo" then
      declare
         Buf : Stream_Element_Array (1 .. 4096);
         Last : Stream_Element_Offset;
         I : constant Stream_Access := Stream (Standard_Input);
         O : constant Stream_Access := Stream (Standard_Output);
      begin
         loop
            Read (I.all, Buf, Last);
            exit when Last < Buf'First;
            Write (O.all, Buf (1 .. Last));
         end loop;
      end;
   elsif M = "args" then
      for K in 2 .. Argument_Count loop
         Put_Line (Argument (K));
      end loop;
   elsif M = "exit" then
      Set_Exit_Status (3);
   elsif M = "error" then
      Put_Line (Integer'Image (10 / (M'Length - 5)));
   elsif M = "threads" then
      declare
         protected Counter is
            procedure Inc;
            function Get return Natural;
         private
            N : Natural := 0;
         end Counter;
         protected body Counter is
            procedure Inc is
            begin
               N := N + 1;
            end Inc;
            function Get return Natural is
            begin
               return N;
            end Get;
         end Counter;
         task type Worker;
         task body Worker is
         begin
            Counter.Inc;
         end Worker;
      begin
         declare
            Ws : array (1 .. 4) of Worker;
         begin
            null;
         end;
         Put_Line ("joined" & Natural'Image (Counter.Get));
      end;
   elsif M = "spin" then
      declare
         type U is mod 2**64;
         X : U := 0 with Volatile;
      begin
         loop
            X := X + 1;
         end loop;
      end;
   elsif M = "hog" then
      declare
         type Node;
         type Node_Access is access Node;
         type Node is record
            Data : String (1 .. 2**20);
            Next : Node_Access;
         end record;
         Head, P : Node_Access := null;
      begin
         loop
            P := new Node;
            P.Data := (others => 'x');
            P.Next := Head;
            Head := P;
         end loop;
      end;
   end if;
end Main;
'''
PROGRAMS["ada"] = dict(
    main=ADA_MAIN, error=("nonzero_exit", r"raised CONSTRAINT_ERROR : main\.adb:\d+ divide by zero"),
    hog=(128, "memory_exceeded", None), threads="tasks",
    syntax=("with Ada.Text_IO;\nprocedure Main is\nbegin\n   Ada.Text_IO.Put_Line (\"a\")\nend Main;\n",
            r"main\.adb:[45]:\d+: "))

COBOL_MAIN = r'''IDENTIFICATION DIVISION.
PROGRAM-ID. prog.
ENVIRONMENT DIVISION.
INPUT-OUTPUT SECTION.
FILE-CONTROL.
    SELECT SYSIN ASSIGN TO KEYBOARD ORGANIZATION LINE SEQUENTIAL.
DATA DIVISION.
FILE SECTION.
FD SYSIN.
01 IN-LINE PIC X(4096).
WORKING-STORAGE SECTION.
01 MODE-ARG PIC X(64).
01 ARG-VAL PIC X(4096).
01 ARG-N PIC 9(4).
01 I PIC 9(4).
01 EOF-FLAG PIC X VALUE "N".
01 X PIC 9(18) COMP-5.
01 BIG PIC X(1048576) BASED.
PROCEDURE DIVISION.
    ACCEPT ARG-N FROM ARGUMENT-NUMBER
    ACCEPT MODE-ARG FROM ARGUMENT-VALUE
    EVALUATE MODE-ARG
    WHEN "echo"
        OPEN INPUT SYSIN
        PERFORM UNTIL EOF-FLAG = "Y"
            READ SYSIN
                AT END MOVE "Y" TO EOF-FLAG
                NOT AT END DISPLAY FUNCTION TRIM(IN-LINE TRAILING)
            END-READ
        END-PERFORM
        CLOSE SYSIN
    WHEN "args"
        PERFORM VARYING I FROM 2 BY 1 UNTIL I > ARG-N
            ACCEPT ARG-VAL FROM ARGUMENT-VALUE
            DISPLAY FUNCTION TRIM(ARG-VAL TRAILING)
        END-PERFORM
    WHEN "exit"
        MOVE 3 TO RETURN-CODE
    WHEN "error"
        CALL "no_such_program"
    WHEN "spin"
        PERFORM FOREVER
            ADD 1 TO X
        END-PERFORM
    WHEN "hog"
        PERFORM FOREVER
            ALLOCATE BIG INITIALIZED
        END-PERFORM
    END-EVALUATE
    STOP RUN.
'''
PROGRAMS["cobol"] = dict(
    main=COBOL_MAIN, error=("nonzero_exit", r"module 'no_such_program' not found"),
    hog=(128, "memory_exceeded", None),
    na={"threads": "COBOL has no threads"},
    syntax=("IDENTIFICATION DIVISION.\nPROGRAM-ID. prog.\nPROCEDURE DIVISION.\n    DISPLAY \"a\" \"b\n    STOP RUN.\n",
            r"main\.cob:[45]: error"))

NIM_MAIN = r'''import os, strutils

var counter: int

proc work(p: ptr int) {.thread.} =
  atomicInc(p[])

let m = if paramCount() >= 1: paramStr(1) else: ""
case m
of "echo":
  stdout.write(stdin.readAll())
of "args":
  for i in 2 .. paramCount():
    echo paramStr(i)
of "exit":
  quit(3)
of "error":
  raise newException(ValueError, "boom")
of "threads":
  var ths: array[4, Thread[ptr int]]
  for i in 0 .. 3:
    createThread(ths[i], work, addr counter)
  joinThreads(ths)
  echo "joined ", counter
of "spin":
  var x = 0
  while true:
    x = (x + 1) mod 1000
of "hog":
  var hoard: seq[string]
  while true:
    hoard.add(repeat('x', 1 shl 20))
else:
  discard
'''
PROGRAMS["nim"] = dict(
    main=NIM_MAIN, error=("nonzero_exit", r"Error: unhandled exception: boom \[ValueError\]"),
    hog=(128, "memory_exceeded", None), threads="createThread (--threads:on)",
    syntax=("let x = 1\necho x\nlet y = = 2\necho y\n", r"main\.nim\(3, ?\d+\) Error"))

R_MAIN = r'''args <- commandArgs(trailingOnly = TRUE)
m <- if (length(args) >= 1) args[1] else ""
if (m == "echo") {
  con <- file("stdin")
  writeLines(readLines(con))
  close(con)
} else if (m == "args") {
  writeLines(args[-1])
} else if (m == "exit") {
  quit(status = 3)
} else if (m == "error") {
  stop("boom")
} else if (m == "threads") {
  r <- parallel::mclapply(1:4, function(i) 1L, mc.cores = 4)
  cat(sprintf("joined %d\n", sum(unlist(r))))
} else if (m == "spin") {
  repeat {}
} else if (m == "hog") {
  hoard <- list()
  i <- 0
  repeat {
    i <- i + 1
    hoard[[i]] <- rep(i, 131072)
  }
}
'''
PROGRAMS["r"] = dict(main=R_MAIN, error=("nonzero_exit", r"Error: boom"),
                     hog=(128, "memory_exceeded", None),
                     threads="processes (parallel::mclapply)")

RACKET_MAIN = r'''#lang racket/base
(define args (current-command-line-arguments))
(define m (if (> (vector-length args) 0) (vector-ref args 0) ""))
(cond
  [(equal? m "echo")
   (let loop ()
     (define b (read-bytes 65536))
     (unless (eof-object? b)
       (write-bytes b)
       (loop)))]
  [(equal? m "args") (for ([a (in-vector args 1)]) (displayln a))]
  [(equal? m "exit") (exit 3)]
  [(equal? m "error") (displayln (vector-ref args 5))]
  [(equal? m "threads")
   (define ch (make-channel))
   (for ([i 4]) (thread (lambda () (channel-put ch 1))))
   (printf "joined ~a\n" (for/sum ([i 4]) (channel-get ch)))]
  [(equal? m "spin") (let loop ([x 0]) (loop (add1 x)))]
  [(equal? m "hog")
   (let loop ([hoard '()])
     (loop (cons (make-bytes 1048576 (modulo (length hoard) 256)) hoard)))]
  [else (void)])
'''
PROGRAMS["racket"] = dict(main=RACKET_MAIN, error=("nonzero_exit", r"vector-ref: index is out of range"),
                          hog=(128, "memory_exceeded", None), threads="thread (green threads)")

SCHEME_MAIN = r'''(use-modules (ice-9 threads) (ice-9 binary-ports) (rnrs bytevectors))
(define args (cdr (command-line)))
(define m (if (pair? args) (car args) ""))
(cond
 ((string=? m "echo")
  (let loop ()
    (let ((b (get-bytevector-some (current-input-port))))
      (unless (eof-object? b)
        (put-bytevector (current-output-port) b)
        (loop)))))
 ((string=? m "args") (for-each (lambda (a) (display a) (newline)) (cdr args)))
 ((string=? m "exit") (exit 3))
 ((string=? m "error") (display (vector-ref (vector) (length args))))
 ((string=? m "threads")
  (let* ((ts (map (lambda (i) (call-with-new-thread (lambda () 1))) '(1 2 3 4)))
         (n (apply + (map join-thread ts))))
    (format #t "joined ~a~%" n)))
 ((string=? m "spin") (let loop ((x 0)) (loop (+ x 1))))
 ((string=? m "hog")
  (let loop ((hoard '()))
    (loop (cons (make-bytevector 1048576 1) hoard)))))
'''
PROGRAMS["scheme"] = dict(main=SCHEME_MAIN, error=("nonzero_exit", r"[Oo]ut of range"),
                          hog=(128, "memory_exceeded", None), threads="call-with-new-thread")

LISP_MAIN = r'''(defun main (args)
  (let ((m (or (first args) "")))
    (cond
      ((string= m "echo")
       (let ((buf (make-array 65536 :element-type '(unsigned-byte 8)))
             (in (sb-sys:make-fd-stream 0 :input t :element-type '(unsigned-byte 8)))
             (out (sb-sys:make-fd-stream 1 :output t :element-type '(unsigned-byte 8))))
         (loop for n = (read-sequence buf in)
               while (> n 0)
               do (write-sequence buf out :end n))
         (finish-output out)))
      ((string= m "args") (dolist (a (rest args)) (write-line a)))
      ((string= m "exit") (sb-ext:exit :code 3))
      ((string= m "error") (print (/ 10 (- (length m) 5))))
      ((string= m "threads")
       (let ((ts (loop repeat 4 collect (sb-thread:make-thread (lambda () 1)))))
         (format t "joined ~a~%" (reduce #'+ (mapcar #'sb-thread:join-thread ts)))))
      ((string= m "spin") (loop))
      ((string= m "hog")
       (let ((hoard nil))
         (loop (push (make-array 1048576 :element-type '(unsigned-byte 8) :initial-element 1)
                     hoard)))))))
(main (rest sb-ext:*posix-argv*))
'''
# SBCL's heap is the request's memory (--dynamic-space-size {memory_mb}MB):
# its own heap exhaustion and the kernel's limit come within a few MiB of
# each other, so either may end the hog.
PROGRAMS["commonlisp"] = dict(main=LISP_MAIN, error=("nonzero_exit", r"DIVISION-BY-ZERO"),
                              hog=(256, ("nonzero_exit", "memory_exceeded"), r"Heap exhausted"),
                              threads="sb-thread")

PROLOG_MAIN = r''':- initialization(main, main).

main :-
    current_prolog_flag(argv, Argv),
    (   Argv = [M|Rest] -> run(M, Rest) ; true ).

run(echo, _) :- copy_stream_data(user_input, user_output).
run(args, Rest) :- forall(member(A, Rest), (write(A), nl)).
run(exit, _) :- halt(3).
run(error, _) :- X is 10 // 0, write(X).
run(threads, _) :-
    findall(T, (between(1, 4, _), thread_create(true, T, [])), Ts),
    maplist(thread_join, Ts),
    length(Ts, N),
    format("joined ~d~n", [N]).
run(spin, _) :- repeat, fail.
run(hog, _) :- hog([]).

hog(L) :- length(B, 100000), maplist(=(x), B), hog([B|L]).
'''
PROGRAMS["prolog"] = dict(main=PROLOG_MAIN,
                          error=("nonzero_exit", r"Arithmetic: evaluation error: .?zero_divisor"),
                          hog=(128, "memory_exceeded", None), threads="thread_create")

ERLANG_MAIN = r'''-module(main).
-export([main/1]).

main(Args) ->
    io:setopts(standard_io, [{encoding, unicode}]),
    case Args of
        ["echo" | _] -> echo();
        ["args" | Rest] -> [io:format("~ts~n", [A]) || A <- Rest];
        ["exit" | _] -> halt(3);
        ["error" | _] -> io:format("~p~n", [lists:nth(10, Args)]);
        ["threads" | _] ->
            Self = self(),
            [spawn(fun() -> Self ! done end) || _ <- lists:seq(1, 4)],
            N = lists:sum([receive done -> 1 end || _ <- lists:seq(1, 4)]),
            io:format("joined ~p~n", [N]);
        ["spin" | _] -> spin(0);
        ["hog" | _] -> hog([]);
        _ -> ok
    end.

echo() ->
    ok = io:setopts(standard_io, [binary, {encoding, latin1}]),
    echo_loop().

echo_loop() ->
    case file:read(standard_io, 65536) of
        {ok, Data} -> file:write(standard_io, Data), echo_loop();
        eof -> ok
    end.

spin(X) -> spin(X + 1).

hog(L) -> hog([binary:copy(<<(length(L) rem 256)>>, 1048576) | L]).
'''
PROGRAMS["erlang"] = dict(
    main=ERLANG_MAIN, error=("nonzero_exit", r"function_clause,\[\{lists,nth"),
    hog=(256, "memory_exceeded", None), threads="processes (spawn)",
    syntax=("-module(main).\n-export([main/1]).\nmain(_) -> io:format(\"~p~n\", [1 +]).\n",
            r"main\.erl:3:\d+: syntax error"))

ELIXIR_MAIN = r'''defmodule Loops do
  def spin(x), do: spin(x + 1)
  def hog(l), do: hog([:binary.copy(<<rem(length(l), 256)>>, 1_048_576) | l])
end

case System.argv() do
  ["echo" | _] ->
    case IO.binread(:stdio, :eof) do
      :eof -> :ok
      data -> IO.binwrite(data)
    end
  ["args" | rest] -> Enum.each(rest, &IO.puts/1)
  ["exit" | _] -> System.halt(3)
  ["error" | _] -> raise ArgumentError, "boom"
  ["threads" | _] ->
    n = 1..4 |> Enum.map(fn _ -> Task.async(fn -> 1 end) end) |> Enum.map(&Task.await/1) |> Enum.sum()
    IO.puts("joined #{n}")
  ["spin" | _] -> Loops.spin(0)
  ["hog" | _] -> Loops.hog([])
  _ -> :ok
end
'''
PROGRAMS["elixir"] = dict(main=ELIXIR_MAIN, error=("nonzero_exit", r"\*\* \(ArgumentError\) boom"),
                          hog=(256, "memory_exceeded", None), threads="Task (BEAM processes)")

OCTAVE_MAIN = r'''args = argv();
m = "";
if numel(args) >= 1
  m = args{1};
end
switch m
  case "echo"
    d = fread(stdin, Inf, "uint8=>char")';
    fwrite(stdout, d);
  case "args"
    for i = 2:numel(args)
      printf("%s\n", args{i});
    end
  case "exit"
    exit(3);
  case "error"
    v = [1 2 3];
    disp(v(7));
  case "spin"
    x = 0;
    while true
      x = x + 1;
    end
  case "hog"
    hoard = {};
    while true
      hoard{end+1} = ones(131072, 1) * numel(hoard);
    end
end
'''
PROGRAMS["octave"] = dict(main=OCTAVE_MAIN,
                          error=("nonzero_exit", r"v\(7\): out of bound 3"),
                          hog=(256, "memory_exceeded", None),
                          na={"threads": "Octave has no threads"})

AWK_MAIN = r'''BEGIN {
  m = ARGV[1]
  if (m == "echo") {
    while ((getline line < "/dev/stdin") > 0)
      print line
  } else if (m == "args") {
    for (i = 2; i < ARGC; i++)
      print ARGV[i]
  } else if (m == "exit") {
    exit 3
  } else if (m == "error") {
    z = length(m) - 5
    print 10 / z
  } else if (m == "spin") {
    while (1)
      x++
  } else if (m == "hog") {
    while (1)
      hoard[n++] = sprintf("%1048576d", n)
  }
  exit
}
'''
PROGRAMS["awk"] = dict(main=AWK_MAIN, error=("nonzero_exit", r"fatal: division by zero attempted"),
                       hog=(128, "memory_exceeded", None),
                       na={"threads": "AWK has no threads"})

PROGRAMS["bc"] = dict(
    rows={"echo": "x = read()\nx\nquit\n",
          "spin": "while (1) { }\nquit\n",
          "hog": "y = 10^10000\nfor (i = 0; ; i++) a[i % 1000000] = y + i\nquit\n"},
    echo_stdin="4242424242424242424242\n",
    na={"args": "bc has no command-line arguments",
        "exit": "bc cannot choose its exit code",
        "error": "bc reports a runtime error on stderr and carries on (exit 0)",
        "threads": "bc has no threads"},
    hog=(128, "memory_exceeded", None))

TCL_MAIN = r'''set m [lindex $argv 0]
switch -- $m {
  echo {
    fconfigure stdin -translation binary
    fconfigure stdout -translation binary
    puts -nonewline [read stdin]
  }
  args {
    foreach a [lrange $argv 1 end] { puts $a }
  }
  exit { exit 3 }
  error { puts [expr {10 / ([string length $m] - 5)}] }
  spin { while 1 {} }
  hog {
    set hoard {}
    while 1 { lappend hoard [string repeat x 1048576][llength $hoard] }
  }
}
'''
PROGRAMS["tcl"] = dict(main=TCL_MAIN, error=("nonzero_exit", r"divide by zero"),
                       hog=(128, "memory_exceeded", None),
                       na={"threads": "the Thread package is not installed"})

PROGRAMS["sqlite"] = dict(
    rows={"echo": "CREATE TABLE t(x TEXT);\n.mode ascii\n.import \"|cat\" t\n.mode list\n"
                  "SELECT x FROM t;\n",
          "exit": "SELECT 1;\n.exit 3\n",
          "error": "SELECT * FROM no_such_table;\n",
          "spin": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)\n"
                  "SELECT max(x) FROM c;\n",
          "hog": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)\n"
                 "SELECT length(group_concat(randomblob(1048576))) FROM c;\n"},
    echo_out=ECHO_IN + "\n",
    error=("nonzero_exit", r"no such table: no_such_table"),
    hog=(128, "memory_exceeded", None),
    na={"args": "SQL has no arguments", "threads": "SQL has no threads"})

ASM_MAIN = r'''        global  _start
        section .bss
buf:    resb    65536
        section .rodata
nl:     db      10
        section .text
_start: mov     rbx, [rsp]              ; argc
        cmp     rbx, 2
        jb      done
        mov     rsi, [rsp + 16]         ; argv[1]
        mov     eax, [rsi]
        cmp     eax, 'echo'
        je      echo
        cmp     eax, 'args'
        je      args
        cmp     eax, 'exit'
        je      exit3
        cmp     eax, 'erro'
        je      error
        cmp     eax, 'spin'
        je      spin
        cmp     eax, 'hog'
        je      hog
done:   mov     eax, 60
        xor     edi, edi
        syscall
echo:   xor     eax, eax                ; read(0, buf, 65536)
        xor     edi, edi
        lea     rsi, [rel buf]
        mov     edx, 65536
        syscall
        test    rax, rax
        jle     done
        mov     rdx, rax                ; write(1, buf, n)
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel buf]
        syscall
        jmp     echo
args:   mov     r12, 2                  ; argv[2..argc-1], one a line
.next:  cmp     r12, rbx
        jae     done
        mov     rsi, [rsp + 8 + 8 * r12]
        xor     edx, edx
.len:   cmp     byte [rsi + rdx], 0
        je      .put
        inc     rdx
        jmp     .len
.put:   mov     eax, 1
        mov     edi, 1
        syscall
        mov     eax, 1
        mov     edi, 1
        lea     rsi, [rel nl]
        mov     edx, 1
        syscall
        inc     r12
        jmp     .next
exit3:  mov     eax, 60
        mov     edi, 3
        syscall
error:  xor     eax, eax
        mov     qword [rax], 1          ; a store through a null pointer
        jmp     done
spin:   jmp     spin
hog:    mov     eax, 9                  ; mmap(NULL, 1 MiB, RW, private|anonymous)
        xor     edi, edi
        mov     esi, 1 << 20
        mov     edx, 3
        mov     r10d, 0x22
        mov     r8, -1
        xor     r9d, r9d
        syscall
        xor     ecx, ecx
.touch: mov     byte [rax + rcx], 1
        add     ecx, 4096
        cmp     ecx, 1 << 20
        jb      .touch
        jmp     hog
'''
PROGRAMS["asm"] = dict(
    main=ASM_MAIN, error=("signaled", None),
    hog=(128, "memory_exceeded", None),
    na={"threads": "threads by hand (clone) are out of scope for a 60-line program"},
    syntax=("        global _start\n        section .text\n_start: mov eax,\n        syscall\n",
            r"main\.asm:3: error"))

FORTH_MAIN = r'''create buf 65536 allot
: echo ( -- )
  begin buf 65536 stdin read-file throw dup while buf swap type repeat drop ;
: args ( -- )
  begin next-arg dup while type cr repeat 2drop ;
: spin ( -- ) begin again ;
: hog ( -- ) begin 1048576 allocate throw 1048576 1 fill again ;
: main ( -- )
  next-arg
  2dup s" echo" compare 0= if 2drop echo bye then
  2dup s" args" compare 0= if 2drop args bye then
  2dup s" exit" compare 0= if 2drop 3 (bye) then
  2dup s" error" compare 0= if 2drop 10 0 / . bye then
  2dup s" spin" compare 0= if 2drop spin then
  2dup s" hog" compare 0= if 2drop hog then
  2drop bye ;
main
'''
PROGRAMS["forth"] = dict(main=FORTH_MAIN, error=("nonzero_exit", r"Division by zero"),
                         hog=(128, "memory_exceeded", None),
                         na={"threads": "Gforth 0.7 has no threads"})

CRYSTAL_MAIN = r'''m = ARGV[0]? || ""
case m
when "echo"
  IO.copy(STDIN, STDOUT)
when "args"
  ARGV[1..].each { |a| puts a }
when "exit"
  exit 3
when "error"
  puts [1, 2, 3][ARGV.size + 5]
when "threads"
  ch = Channel(Int32).new
  4.times { spawn { ch.send 1 } }
  n = 0
  4.times { n += ch.receive }
  puts "joined #{n}"
when "spin"
  x = 0_u64
  loop { x &+= 1 }
when "hog"
  hoard = [] of Bytes
  loop { hoard << Bytes.new(1 << 20, 1_u8) }
end
'''
PROGRAMS["crystal"] = dict(
    main=CRYSTAL_MAIN, error=("nonzero_exit", r"Index out of bounds \(IndexError\)"),
    hog=(128, "memory_exceeded", None), threads="fibers (spawn, Channel)",
    syntax=("x = 1\nputs x\ny = (x +\nputs y\n", r"main\.cr:[34]:\d+"))

# The most expensive languages first: they set the suite's length.
COST_ORDER = ["crystal", "kotlin", "scala", "nim", "haskell", "clojure", "groovy", "typescript",
              "java", "csharp", "elixir", "octave", "rust", "go", "erlang", "cobol", "ada", "d",
              "cpp", "cpp-clang", "fortran", "racket", "pascal", "ocaml", "r", "commonlisp"]

# ---- the checks ------------------------------------------------------------

svc = None
LANGS = {}        # id -> config entry (the languages file the service uses)
PRESENT = {}      # id -> GET /api/v1/languages entry
MISSING = {}      # id -> reason from /api/v1/health, when it says
NARROWED = None   # set of ids from RUNBOX_LANGUAGES, or None
ANSWERS = {}      # (id, request name) -> (status, body, seconds) or exception
CHECKS = []
NOTES = []


def compiled(lid):
    return "compile" in LANGS[lid]


def entry(lid):
    return PROGRAMS.get(lid)


def row_code(lid, row):
    e = entry(lid)
    return (e.get("rows") or {}).get(row) or e.get("main")


def wanted(lid):
    return NARROWED is None or lid in NARROWED


def describe(body):
    if not isinstance(body, dict):
        return short(body)
    s = "status %r (%s), exit %r, signal %r, stdout %s, stderr (end) %s" % (
        body.get("status"), body.get("message"), body.get("exit_code"), body.get("signal"),
        short(body.get("stdout"), 200), repr((body.get("stderr") or "")[-600:]))
    comp = body.get("compile")
    if isinstance(comp, dict) and comp.get("status") != "ok":
        s += ", compile %r: %s" % (comp.get("status"), short(
            (comp.get("stdout") or "") + (comp.get("stderr") or ""), 800))
    return s


# -- the requests --

def test_of(lid, row):
    """The judge test of a row: its stdin and args."""
    e = entry(lid)
    t = {"args": [] if e.get("rows", {}).get(row) else [row]}
    if row == "echo":
        t["stdin"] = e.get("echo_stdin", ECHO_IN)
    if row == "args":
        t["args"] = ["args"] + ARGS
    return t


def requests_of(lid):
    """{name: (request, rows)} of a language."""
    e = entry(lid)
    na = e.get("na", {})
    out = {"sample": ({"language": lid, "code": LANGS[lid].get("sample", "")}, ["sample"])}
    groups = {}   # code -> rows, for the rows of the default limits
    for row in MAIN_ROWS:
        if row in na:
            continue
        groups.setdefault(row_code(lid, row), []).append(row)
    for i, (code, rows) in enumerate(groups.items()):
        out["main%d" % i] = ({"language": lid, "code": code,
                              "tests": [test_of(lid, r) for r in rows]}, rows)
    # CPU time enough that the hog meets its memory limit first.
    hog = {"memory_bytes": e["hog"][0] * MiB, "cpu_time_ms": 5000, "wall_time_ms": 10000}
    out["spin"] = ({"language": lid, "code": row_code(lid, "spin"), "limits": SPIN_LIMITS,
                    "tests": [test_of(lid, "spin")]}, ["spin"])
    out["hog"] = ({"language": lid, "code": row_code(lid, "hog"), "limits": hog,
                   "tests": [test_of(lid, "hog")]}, ["hog"])
    if compiled(lid):
        out["syntax"] = ({"language": lid, "code": e["syntax"][0]}, ["syntax"])
    return out


def send(lid, name, req):
    t0 = time.monotonic()
    try:
        status, _, body = svc.post_run(req, timeout=300)
    except Exception as ex:  # noqa: BLE001 - reported by the row's check
        ANSWERS[(lid, name)] = ex
        return
    ANSWERS[(lid, name)] = (status, body, time.monotonic() - t0)


def answer(lid, name):
    a = ANSWERS.get((lid, name))
    if a is None:
        fail("no answer to the %s request" % name)
    if isinstance(a, Exception):
        fail("the %s request failed: %s: %s" % (name, type(a).__name__, a))
    status, body, _ = a
    if status != 200:
        fail("the %s request got HTTP %d: %s" % (name, status, short(body)))
    return body


def run_requests(ids):
    todo = []
    for lid in sorted(ids, key=lambda i: (COST_ORDER.index(i) if i in COST_ORDER
                                          else len(COST_ORDER), i)):
        for name, (req, _) in requests_of(lid).items():
            todo.append((lid, name, req))
    # Within a language's turn the costly requests go first as well.
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=SLOTS) as pool:
        for f in [pool.submit(send, *t) for t in todo]:
            f.result()
    return len(todo), time.monotonic() - t0


# -- the rows --

def result_of(lid, row):
    """(body of the request, the row's own result: a test or the body)."""
    for name, (_, rows) in requests_of(lid).items():
        if row in rows:
            body = answer(lid, name)
            if "tests" not in body:
                return body, body
            comp = body.get("compile")
            if isinstance(comp, dict) and comp.get("status") != "ok":
                fail("compile step: %s" % describe(body))
            tests = body.get("tests") or []
            eq(len(tests), len(rows), "tests answered")
            return body, tests[rows.index(row)]
    fail("row %s has no request" % row)


def check_present(lid):
    if entry(lid) is None:
        fail("%s is configured but the conformance table has no programs for it" % lid)
    if lid not in PRESENT:
        fail("%s is configured but not served (missing: %s)" % (lid, MISSING.get(lid, "no reason given")))
    v = PRESENT[lid].get("version")
    check(isinstance(v, str) and re.search(r"\d", v or ""), "no version: %r" % (v,))
    return "version %s" % v


def check_sample(lid):
    body, r = result_of(lid, "sample")
    check(r.get("status") == "ok", describe(r))
    check("Hello" in (r.get("stdout") or ""), "the sample did not say Hello: " + describe(r))
    comp = body.get("compile")
    t = "run %d ms" % r["usage"]["wall_time_ms"]
    if comp:
        t = "compile %d ms, %s" % (comp["usage"]["wall_time_ms"], t)
    return t


def check_echo(lid):
    _, r = result_of(lid, "echo")
    e = entry(lid)
    check(r.get("status") == "ok", describe(r))
    want = e.get("echo_out", e.get("echo_stdin", ECHO_IN))
    eq(r.get("stdout"), want, "stdout")
    return "%d bytes back" % len(want.encode())


def check_args(lid):
    _, r = result_of(lid, "args")
    check(r.get("status") == "ok", describe(r))
    eq(r.get("stdout"), "".join(a + "\n" for a in ARGS), "stdout")
    return "%d args" % len(ARGS)


def check_exit(lid):
    _, r = result_of(lid, "exit")
    check(r.get("status") == "nonzero_exit" and r.get("exit_code") == 3, describe(r))
    return "exit 3"


def check_error(lid):
    status, rx = entry(lid)["error"]
    _, r = result_of(lid, "error")
    check(r.get("status") == status, "expected %s: %s" % (status, describe(r)))
    if rx:
        check(re.search(rx, r.get("stderr") or ""), "stderr does not match %r: %s" % (rx, describe(r)))
    return "%s%s" % (status, " " + r["signal"] if r.get("signal") else " %s" % r.get("exit_code"))


def check_threads(lid):
    body, r = result_of(lid, "threads")
    check(r.get("status") == "ok", describe(r))
    eq(r.get("stdout"), THREADS_OUT, "stdout")
    return "%s, processes limit %s" % (entry(lid)["threads"], body["limits"]["processes"])


def check_spin(lid):
    _, r = result_of(lid, "spin")
    check(r.get("status") == "cpu_time_exceeded", describe(r))
    wall = r["usage"]["wall_time_ms"]
    check(wall < SPIN_WALL_MAX_MS, "the run took %d ms of wall time (CPU %d ms)"
          % (wall, r["usage"]["cpu_time_ms"]))
    return "cpu %d ms, wall %d ms" % (r["usage"]["cpu_time_ms"], wall)


def check_hog(lid):
    mib, status, rx = entry(lid)["hog"]
    statuses = status if isinstance(status, tuple) else (status,)
    _, r = result_of(lid, "hog")
    check(r.get("status") in statuses, "expected %s at %d MiB: %s" % (
        " or ".join(statuses), mib, describe(r)))
    if rx and r.get("status") == "nonzero_exit":
        check(re.search(rx, r.get("stderr") or ""), "stderr does not match %r: %s" % (rx, describe(r)))
    return "%s at %d MiB (peak %.0f MiB)" % (r["status"], mib, r["usage"]["max_rss_bytes"] / MiB)


def check_syntax(lid):
    rx = entry(lid)["syntax"][1]
    body, _ = result_of(lid, "syntax")
    comp = body.get("compile") or {}
    check(body.get("status") == "compile_error", describe(body))
    check("tests" not in body and body.get("stdout", "") == "", "the program ran: " + describe(body))
    text = (comp.get("stderr") or "") + (comp.get("stdout") or "")
    check(re.search(rx, text), "the compiler's message does not match %r: %s" % (rx, short(text, 800)))
    return short(re.search(rx, text).group(0), 60)


def check_judge(lid):
    body, _ = result_of(lid, "echo")
    comp = body.get("compile")
    check(isinstance(comp, dict) and comp.get("status") == "ok", "one compile step: " + describe(body))
    tests = body["tests"]
    check(all(isinstance(t.get("usage"), dict) for t in tests), "a test did not run: %s" % short(tests))
    outs = [t.get("stdout") for t in tests[:2]]
    check(outs[0] != outs[1], "the echo and args tests gave the same output: %s" % short(outs))
    return "compiled once (%d ms), %d tests" % (comp["usage"]["wall_time_ms"], len(tests))


ROW_CHECKS = [("present", check_present), ("sample", check_sample), ("echo", check_echo),
              ("args", check_args), ("exit", check_exit), ("error", check_error),
              ("threads", check_threads), ("spin", check_spin), ("hog", check_hog),
              ("syntax", check_syntax), ("judge", check_judge)]


def make_check(lid, row, fn):
    def c():
        if row != "present" and lid not in PRESENT:
            fail("%s is not served: %s" % (lid, MISSING.get(lid, "not listed")))
        return fn(lid)
    c.__name__ = "%s:%s" % (lid, row)
    return c


def rows_of(lid):
    e = entry(lid) or {}
    na = e.get("na", {})
    out = []
    for row, fn in ROW_CHECKS:
        if row in ("syntax", "judge") and not compiled(lid):
            continue
        if row in na:
            NOTES.append("%-11s %-8s n/a: %s" % (lid, row, na[row]))
            continue
        if e == {} and row != "present":
            continue
        out.append((row, fn))
    return out


def stop_leaves_nothing():
    problems = svc.stop()
    check(not problems, "; ".join(problems))
    return "stopped cleanly"


def main():
    global svc, NARROWED
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    svc = harness.Service(overrides=OVERRIDES)
    why = svc.missing()
    if why:
        print("test_languages.py: skipped: %s" % why)
        return 77
    with open(svc.config) as f:
        cfg = json.load(f)
    with open(cfg["languages_file"]) as f:
        for l in json.load(f)["languages"]:
            LANGS[l["id"]] = l
    narrow = os.environ.get("RUNBOX_LANGUAGES", "").split()
    NARROWED = set(narrow) if narrow else None
    only = sys.argv[1:]
    unknown = [a for a in only if a not in LANGS]
    if unknown:
        print("test_languages.py: not configured: %s" % " ".join(unknown))
        return 2
    ids = only or list(LANGS)
    report = harness.Report("languages", __file__, svc)
    start_error = None
    try:
        try:
            svc.start()
            st, _, listed = svc.get_json("/api/v1/languages")
            check(st == 200, "GET /api/v1/languages: %s" % st)
            for l in listed if isinstance(listed, list) else listed.get("languages", []):
                PRESENT[l["id"]] = l
            st, _, health = svc.get_json("/api/v1/health")
            for m in (health or {}).get("languages_missing", []) if isinstance(health, dict) else []:
                if isinstance(m, dict) and "id" in m:
                    MISSING[m["id"]] = m.get("reason", "")
            print("languages: service on port %d, %d slots; %d configured, %d served%s" % (
                svc.port, SLOTS, len(LANGS), len(PRESENT),
                "; RUNBOX_LANGUAGES=%s" % " ".join(narrow) if narrow else ""))
            sys.stdout.flush()
            runnable = [i for i in ids if i in PRESENT and entry(i)]
            n, secs = run_requests(runnable)
            print("languages: %d requests for %d languages in %.1f s" % (n, len(runnable), secs))
        except Exception as e:  # noqa: BLE001 - every check reports it
            start_error = "%s: %s" % (type(e).__name__, e)
        sys.stdout.flush()
        for lid in ids:
            for row, fn in rows_of(lid):
                c = make_check(lid, row, fn)
                if lid not in PRESENT and not wanted(lid):
                    report.skip(c, "left out by RUNBOX_LANGUAGES and not installed")
                else:
                    report.run(c, start_error)
        report.run(stop_leaves_nothing, start_error)
    finally:
        for line in NOTES:
            print("languages: " + line)
        status = report.finish()
    return status


if __name__ == "__main__":
    sys.exit(main())
