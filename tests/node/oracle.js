'use strict'
// Answers batches of node-semver questions for tests/test_semver_node.py.
// Protocol: one JSON line out at start ({"semver": VERSION}); then, for each
// JSON line in (an array of [op, ...args]), one JSON line out (an array of
// answers in the same order). Strict mode throughout, as modelreg follows.
const readline = require('node:readline')
const semver = require('semver')

const answer = ([op, ...args]) => {
  switch (op) {
    case 'valid':
      return semver.valid(args[0])
    case 'compare':
      return semver.compare(args[0], args[1])
    case 'validRange':
      return semver.validRange(args[0], { includePrerelease: args[1] })
    case 'satisfies':
      return semver.satisfies(args[0], args[1], { includePrerelease: args[2] })
    default:
      throw new Error(`unknown operation ${JSON.stringify(op)}`)
  }
}

const guarded = (question) => {
  try {
    return answer(question)
  } catch (error) {
    return { error: String(error.message || error) }
  }
}

process.stdout.write(JSON.stringify({ semver: require('semver/package.json').version }) + '\n')
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  process.stdout.write(JSON.stringify(JSON.parse(line).map(guarded)) + '\n')
})
