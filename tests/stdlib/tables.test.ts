// save_table / load_table against Python's csv and json modules (a reader and
// writer we did not write): what we write, Python reads cell for cell; what
// Python writes (quotes, commas, line breaks in fields), we read back.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { tempDir } from "../helpers.js";
import { Dict, Table } from "../../core/values.js";
import { csvToTable, loadTable, parseCsv, saveTable, specs, tableToCsv } from "../../stdlib/tables.js";
import { MergelabError } from "../../core/errors.js";

const hasPython = spawnSync("python3", ["-c", "import csv, json"]).status === 0;
const python = (code: string, input = "") => {
  const r = spawnSync("python3", ["-c", code], { input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
};

const tricky = new Table(
  ["method", "k", "acc", "note", "ok"],
  [
    ["ties", 0.1, 0.8123456789012345, 'says "hi", twice', true],
    ["dare, ties", 1e-7, NaN, "line\nbreak", false],
    ["λ-sweep", 3, null, " padded ", null],
  ],
);

describe("save_table / load_table", () => {
  it.skipIf(!hasPython)("writes CSV that Python's csv module reads cell for cell, numbers exactly", () => {
    const cells = JSON.parse(python("import csv, sys, json; print(json.dumps(list(csv.reader(sys.stdin))))", tableToCsv(tricky))) as string[][];
    expect(cells[0]).toEqual(tricky.columns);
    expect(cells.slice(1).map((r) => r[0])).toEqual(["ties", "dare, ties", "λ-sweep"]);
    expect(cells[1][3]).toBe('says "hi", twice');
    expect(cells[2][3]).toBe("line\nbreak");
    expect(cells[3][3]).toBe(" padded ");
    // floats round-trip through Python's float() to the same double
    expect(Number(python("import sys; print(repr(float(sys.stdin.read())))", cells[1][2]))).toBe(0.8123456789012345);
    expect(Number(cells[2][1])).toBe(1e-7);
    expect(cells[2][2]).toBe(""); // NaN → empty
    expect(cells[3][2]).toBe(""); // none → empty
  });

  it.skipIf(!hasPython)("reads CSV written by Python's csv module, inferring numbers, booleans and none", () => {
    const csv = python(
      "import csv, sys; w = csv.writer(sys.stdout, lineterminator='\\r\\n'); w.writerows([['name','k','ok','x'],['a, \"b\"',0.25,'true',''],['c\\nd',1e-9,'false','3'],['e',-2,'true','nan']])",
    );
    const t = csvToTable(csv);
    expect(t.columns).toEqual(["name", "k", "ok", "x"]);
    expect(t.rows.map((r) => r[0])).toEqual(['a, "b"', "c\nd", "e"]);
    expect(t.rows.map((r) => r[1])).toEqual([0.25, 1e-9, -2]);
    expect(t.rows.map((r) => r[2])).toEqual([true, false, true]);
    expect(t.rows[0][3]).toBeNull();
    expect(t.rows[1][3]).toBe(3);
    expect(t.rows[2][3]).toBeNaN();
  });

  it("round-trips a table through CSV and JSON files (atomic write, directories made)", () => {
    const dir = tempDir("mergelab-tables-");
    for (const ext of ["csv", "json"]) {
      const file = path.join(dir, "out", `t.${ext}`);
      saveTable(tricky, file);
      expect(fs.readdirSync(path.dirname(file)).filter((f) => f.includes("tmp"))).toEqual([]);
      const back = loadTable(file);
      expect(back.columns).toEqual(tricky.columns);
      expect(back.rows.map((r) => r[0])).toEqual(["ties", "dare, ties", "λ-sweep"]);
      expect(back.rows.map((r) => r[1])).toEqual([0.1, 1e-7, 3]);
      expect(back.rows[0][2]).toBe(0.8123456789012345);
      expect(back.rows.map((r) => r[4])).toEqual([true, false, null]);
      expect(back.rows[1][3]).toBe("line\nbreak");
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!hasPython)("writes JSON records Python's json module reads (NaN as null)", () => {
    const dir = tempDir("mergelab-tables-");
    const file = path.join(dir, "t.json");
    saveTable(tricky, file);
    const recs = JSON.parse(python("import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))".replace("sys.argv[1]", JSON.stringify(file))));
    expect(recs).toHaveLength(3);
    expect(recs[1]).toEqual({ method: "dare, ties", k: 1e-7, acc: null, note: "line\nbreak", ok: false });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reports malformed input with the file and line, and an unknown format", () => {
    expect(() => csvToTable('a,b\n1,2\n3\n', "r.csv")).toThrow("r.csv:3: 1 fields, the header has 2");
    expect(() => parseCsv('a\n"open', "r.csv")).toThrow("r.csv:2: a quoted field is not closed");
    expect(() => loadTable("/nonexistent/x.csv")).toThrow(MergelabError);
    const save = specs.find((s) => s.name === "save_table")!;
    const ctx = { cwd: "/", dryRun: true, stdout: () => {}, display: () => {}, options: {} };
    expect(() => save.call({ table: tricky, path: "x.parquet" }, ctx)).toThrow(/name it \.csv or \.json/);
  });

  it("save_table takes a list of records and writes nothing in a dry run", () => {
    const dir = tempDir("mergelab-tables-");
    const save = specs.find((s) => s.name === "save_table")!;
    const recs = [new Dict(new Map<string, number>([["k", 0.1], ["acc", 0.5]])), new Dict(new Map<string, number>([["k", 0.2], ["extra", 1]]))];
    const ctx = (dryRun: boolean) => ({ cwd: dir, dryRun, stdout: () => {}, display: () => {}, options: {} });
    save.call({ table: recs, path: "r.csv" }, ctx(true));
    expect(fs.existsSync(path.join(dir, "r.csv"))).toBe(false);
    save.call({ table: recs, path: "r.csv" }, ctx(false));
    expect(fs.readFileSync(path.join(dir, "r.csv"), "utf8")).toBe("k,acc,extra\n0.1,0.5,\n0.2,,1\n");
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
