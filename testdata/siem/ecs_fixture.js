#!/usr/bin/env node
// Trims the Elastic Common Schema's field definitions into the fixture the tests validate
// `pci-guard audit export --format ecs` against (testdata/siem/ecs-9.4.0.json).
//
// Source: npm @elastic/ecs 9.4.0 (Elastic's ECS field definitions, generated from ECS's
// ecs_flat.yml; Apache-2.0). Run by hand when the ECS version changes:
//
//   npm pack @elastic/ecs@9.4.0 && tar xzf elastic-ecs-9.4.0.tgz
//   node testdata/siem/ecs_fixture.js package/build/commonjs/ecs_flat.js > testdata/siem/ecs-9.4.0.json
//
// Kept per field: its type, whether it is an array (`normalize: array`), and for the
// categorization fields (event.kind, event.category, event.type, event.outcome) the allowed
// values, with each category's expected event types.
const { EcsFlat } = require(require('path').resolve(process.argv[2]));
const fields = {};
for (const [name, f] of Object.entries(EcsFlat)) {
  const out = { type: f.type };
  if ((f.normalize || []).includes('array')) out.array = true;
  if (f.allowed_values) {
    out.allowed = f.allowed_values.map((v) =>
      v.expected_event_types ? { name: v.name, expected_event_types: v.expected_event_types } : { name: v.name }
    );
  }
  fields[name] = out;
}
const version = EcsFlat['ecs.version'] && EcsFlat['ecs.version'].example;
process.stdout.write(
  JSON.stringify(
    {
      ecs_version: '9.4.0',
      ecs_version_example: version,
      source: 'npm @elastic/ecs 9.4.0, build/commonjs/ecs_flat.js (Apache-2.0), trimmed by testdata/siem/ecs_fixture.js',
      fields,
    },
    null,
    0
  ).replace(/\},"/g, '},\n"') + '\n'
);
