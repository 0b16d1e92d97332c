/**
 * A query built and compiled once, then run with new values. Kysely builds an operation tree
 * and compiles it to SQL on every execute; for the few statements every API request runs
 * (authentication, the hold, settlement) that was more than half of Kysely's share of the
 * request's CPU time, and three to four times the cost of running the statement itself.
 *
 * The query is still written with Kysely's builder (so it is typed, and compiled for the
 * store's dialect: `?` for SQLite, `$1` for PostgreSQL). Each value that changes from run
 * to run is a named slot: `build` receives `slot(name)`, which returns a marker value, and
 * preparing finds where each marker landed in the compiled parameters. Running copies the
 * parameters and puts the run's values in those places; nothing is parsed or compiled again.
 */
import type { CompiledQuery, QueryResult } from 'kysely';

/** A Kysely instance or a transaction: whatever runs a compiled query. */
export interface QueryRunner {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

interface Compilable<Row> {
  compile(): CompiledQuery<Row>;
}

/** A marker no real value equals: a string with a NUL that no caller's data starts with. */
const MARKER_PREFIX = '\u0000moongate-slot:';

export type Slot = <T = string>(name: string) => T;

export class PreparedQuery<Row, Name extends string = string> {
  readonly #compiled: CompiledQuery<Row>;
  /** For each slot name, the indexes of the parameters it fills. */
  readonly #places: ReadonlyArray<readonly [Name, number]>;

  /** `build` returns a builder, or a query it already compiled (`sql` templates compile against a db). */
  constructor(build: (slot: Slot) => Compilable<Row> | CompiledQuery<Row>) {
    const names = new Set<string>();
    const slot: Slot = <T>(name: string): T => {
      names.add(name);
      return `${MARKER_PREFIX}${name}` as T;
    };
    const built = build(slot);
    this.#compiled = 'compile' in built ? built.compile() : built;
    const places: Array<readonly [Name, number]> = [];
    this.#compiled.parameters.forEach((parameter, index) => {
      if (typeof parameter === 'string' && parameter.startsWith(MARKER_PREFIX)) places.push([parameter.slice(MARKER_PREFIX.length) as Name, index]);
    });
    for (const name of names) {
      if (!places.some(([placed]) => placed === name)) throw new Error(`prepared query: slot ${name} is not among the compiled parameters`);
    }
    this.#places = places;
  }

  /** The compiled SQL, for tests and logs. */
  get sql(): string {
    return this.#compiled.sql;
  }

  /** Runs on `db` (or a transaction of the same database) with these slot values. */
  execute(db: QueryRunner, values: Readonly<Record<Name, unknown>>): Promise<QueryResult<Row>> {
    const parameters = this.#compiled.parameters.slice();
    for (const [name, index] of this.#places) {
      const value = values[name];
      if (value === undefined) throw new Error(`prepared query: no value for slot ${name}`);
      parameters[index] = value;
    }
    return db.executeQuery<Row>({ ...this.#compiled, parameters });
  }

  async executeTakeFirst(db: QueryRunner, values: Readonly<Record<Name, unknown>>): Promise<Row | undefined> {
    return (await this.execute(db, values)).rows[0];
  }
}

/**
 * A multi-row insert of `columns` into `table`, compiled once per row count (batches come
 * in a handful of sizes): the builder's cost grows with every value, and a batch of 256
 * rows of 17 columns is 4,352 of them.
 */
export class PreparedInsert<Row extends object> {
  readonly #byCount = new Map<number, { compiled: CompiledQuery<unknown>; places: ReadonlyArray<readonly [number, keyof Row, number]> }>();

  constructor(
    private readonly compileRows: (rows: readonly Row[]) => CompiledQuery<unknown>,
    private readonly columns: ReadonlyArray<keyof Row & string>,
    /** Row counts compiled are kept up to this many distinct ones (oldest out). */
    private readonly maxShapes = 64,
  ) {}

  execute(db: QueryRunner, rows: readonly Row[]): Promise<QueryResult<unknown>> {
    const { compiled, places } = this.#shape(rows.length);
    const parameters = compiled.parameters.slice();
    for (const [row, column, index] of places) parameters[index] = (rows[row] as Row)[column] ?? null;
    return db.executeQuery({ ...compiled, parameters });
  }

  #shape(count: number) {
    let shape = this.#byCount.get(count);
    if (shape !== undefined) return shape;
    const markers = Array.from({ length: count }, (_, row) => {
      const marked: Record<string, string> = {};
      for (const column of this.columns) marked[column] = `${MARKER_PREFIX}${row}:${column}`;
      return marked as Row;
    });
    const compiled = this.compileRows(markers);
    const places: Array<readonly [number, keyof Row, number]> = [];
    compiled.parameters.forEach((parameter, index) => {
      if (typeof parameter !== 'string' || !parameter.startsWith(MARKER_PREFIX)) return;
      const [row, column] = parameter.slice(MARKER_PREFIX.length).split(':') as [string, keyof Row];
      places.push([Number(row), column, index]);
    });
    if (places.length !== count * this.columns.length) throw new Error('prepared insert: a column is not among the compiled parameters');
    if (this.#byCount.size >= this.maxShapes) this.#byCount.delete(this.#byCount.keys().next().value as number);
    this.#byCount.set(count, (shape = { compiled, places }));
    return shape;
  }
}
