package pgstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// migrations[i] takes the schema from version i to i+1. Append only: a
// released migration never changes.
var migrations = []string{
	// 1: the TypeScript tool's tables (exactly its DDL, so whichever tool
	// comes first creates the same thing), our version and our leases.
	`create table if not exists alchemy_resource_state (
		stack text not null,
		stage text not null,
		fqn text not null,
		value jsonb not null,
		updated_at timestamptz not null default now(),
		primary key (stack, stage, fqn)
	);
	create table if not exists alchemy_stack_output (
		stack text not null,
		stage text not null,
		value jsonb not null,
		updated_at timestamptz not null default now(),
		primary key (stack, stage)
	);
	create table if not exists alchemy_go_schema (
		version int not null
	);
	create table if not exists alchemy_lease (
		stack text not null,
		stage text not null,
		epoch bigint not null,
		username text not null,
		host text not null,
		pid int not null,
		command text not null,
		started_at timestamptz not null,
		renewed_at timestamptz not null,
		ttl_ms bigint not null,
		backend_pid int not null,
		released boolean not null default false,
		primary key (stack, stage)
	)`,
}

// SchemaVersion is the version of the tables this build writes.
var SchemaVersion = len(migrations)

// schemaLock is the TypeScript tool's migration lock key: both tools create
// tables under it.
const schemaLock = "alchemy:schema"

// migrate brings the tables to SchemaVersion. The common case, an up to
// date schema, is one query and takes no lock.
func (b *Backend) migrate(ctx context.Context) error {
	var v *int32
	err := b.pool.QueryRow(ctx, "select max(version) from alchemy_go_schema").Scan(&v)
	switch {
	case err == nil && v != nil && int(*v) == SchemaVersion:
		return nil
	case err == nil && v != nil && int(*v) > SchemaVersion:
		return b.newerSchema(int(*v))
	case err != nil && pgCode(err) != "42P01": // 42P01: no such table yet
		var connect *pgconn.ConnectError
		if errors.As(err, &connect) || pgCode(err) == "" {
			return b.connectError(err)
		}
		return b.errorf(err, "reading the state schema version in %s", b.describe)
	}
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock(hashtextextended($1, 0))", schemaLock); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, "select to_regclass('alchemy_go_schema') is not null").Scan(&exists); err != nil {
			return err
		}
		have := 0
		if exists {
			var v *int32
			if err := tx.QueryRow(ctx, "select max(version) from alchemy_go_schema").Scan(&v); err != nil {
				return err
			}
			if v != nil {
				have = int(*v)
			}
		}
		if have > SchemaVersion {
			return b.newerSchema(have)
		}
		for i := have; i < SchemaVersion; i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migrating the state tables to version %d: %w", i+1, err)
			}
		}
		if _, err := tx.Exec(ctx, "delete from alchemy_go_schema"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "insert into alchemy_go_schema (version) values ($1)", SchemaVersion)
		return err
	})
	if err != nil {
		if _, ok := err.(*newerSchemaError); ok {
			return err
		}
		return b.errorf(err, "creating the state tables in %s (the role needs CREATE on the schema)", b.describe)
	}
	return nil
}

type newerSchemaError struct{ msg string }

func (e *newerSchemaError) Error() string { return e.msg }

func (b *Backend) newerSchema(v int) error {
	return &newerSchemaError{fmt.Sprintf("the state tables in %s are at schema version %d, newer than this alchemy knows (%d): "+
		"upgrade alchemy to use this store", b.describe, v, SchemaVersion)}
}
