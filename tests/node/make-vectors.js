'use strict'
// Writes tests/data/semver-vectors.json from node-semver's own test fixtures.
//
//   git clone --branch v7.8.5 <node-semver repository> /tmp/node-semver
//   node tests/node/make-vectors.js /tmp/node-semver > tests/data/semver-vectors.json
//
// Keeps the strict-mode cases (modelreg follows strict mode) and checks every one
// against the semver package installed here (npm ci), so the file says what that
// release does; it exits non-zero if a fixture and the package disagree.
const path = require('node:path')
const semver = require('semver')
const parseOptions = require('semver/internal/parse-options')

const checkout = process.argv[2]
if (!checkout) {
  process.stderr.write('usage: node make-vectors.js NODE_SEMVER_CHECKOUT\n')
  process.exit(2)
}
const tag = require(path.resolve(checkout, 'package.json')).version
const fixture = name => require(path.resolve(checkout, 'test', 'fixtures', `${name}.js`))
const strict = options => !parseOptions(options).loose
const incPre = options => !!parseOptions(options).includePrerelease
const check = (ok, what) => {
  if (!ok) {
    throw new Error(`semver ${require('semver/package.json').version} disagrees with the fixture: ${what}`)
  }
}

const rangeCases = (name, expected) => fixture(name)
  .filter(([, version, options]) => typeof version === 'string' && strict(options))
  .map(([range, version, options]) => {
    const includePrerelease = incPre(options)
    check(semver.satisfies(version, range, { includePrerelease }) === expected, `${name} ${range} ${version}`)
    return { range, version, include_prerelease: includePrerelease }
  })

const rangeParse = fixture('range-parse')
  .filter(([, , options]) => strict(options))
  .map(([range, normalized, options]) => {
    const includePrerelease = incPre(options)
    check(semver.validRange(range, { includePrerelease }) === normalized, `range-parse ${range}`)
    return { range, normalized, include_prerelease: includePrerelease }
  })

const pairs = (name, expected) => fixture(name)
  .filter(([, , options]) => strict(options))
  .map(([a, b]) => {
    check(semver.compare(a, b) === expected, `${name} ${a} ${b}`)
    return [a, b]
  })

const validVersions = fixture('valid-versions').map(([text, major, minor, patch, prerelease, build]) => {
  const parsed = semver.parse(text)
  check(parsed !== null && parsed.major === major && parsed.minor === minor && parsed.patch === patch,
    `valid-versions ${text}`)
  return { text, major, minor, patch, prerelease, build }
})

const invalidVersions = fixture('invalid-versions')
  .filter(([text, , options]) => typeof text === 'string' && strict(options))
  .map(([text]) => {
    check(semver.valid(text) === null, `invalid-versions ${text}`)
    return text
  })

const vectors = {
  source: `node-semver ${tag}'s test/fixtures (range-parse, range-include, range-exclude, comparisons, ` +
    'equality, valid-versions, invalid-versions): the strict-mode cases, each checked against the ' +
    `semver ${require('semver/package.json').version} package by tests/node/make-vectors.js, which wrote this file.`,
  range_parse: rangeParse,
  range_include: rangeCases('range-include', true),
  range_exclude: rangeCases('range-exclude', false),
  greater_than: pairs('comparisons', 1),
  equal_precedence: pairs('equality', 0),
  valid_versions: validVersions,
  invalid_versions: invalidVersions,
}
process.stdout.write(JSON.stringify(vectors, null, 1) + '\n')
