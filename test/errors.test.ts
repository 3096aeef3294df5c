import t from 'tap'
import { DiffuseError, describeValue, invalidArgument } from '../src/errors.js'
import { checkInteger, checkOneOf, checkShape } from '../src/validate.js'

t.test('DiffuseError carries a stable code and says what was expected and received', async (t) => {
  const e = invalidArgument('steps', 'an integer >= 1', -3)
  t.ok(e instanceof DiffuseError)
  t.equal(e.code, 'INVALID_ARGUMENT')
  t.match(e.message, /Expected steps to be an integer >= 1 but received number -3/)
  t.equal(describeValue(new Float32Array(3)), 'Float32Array of length 3')
})

t.test('validators reject bad values with INVALID_ARGUMENT', async (t) => {
  t.throws(() => checkInteger('steps', 2.5, 1), { code: 'INVALID_ARGUMENT' })
  t.throws(() => checkInteger('steps', 0, 1), { code: 'INVALID_ARGUMENT' })
  t.equal(checkInteger('steps', 3, 1), 3)
  t.throws(() => checkOneOf('device', 'tpu', ['cpu', 'cuda', 'auto'] as const), /one of "cpu", "cuda", "auto"/)
  t.throws(() => checkShape('shape', [1, 0, 3]), { code: 'INVALID_ARGUMENT' })
  t.same(checkShape('shape', [1, 4, 8]), [1, 4, 8])
})
