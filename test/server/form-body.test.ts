import { describe, expect, it } from 'vitest';
import { formFields } from '../../src/server/form-body.js';

describe('formFields (urlencoded bodies)', () => {
  it('decodes fields as URLSearchParams encodes them', () => {
    const sent = { data: Buffer.from('[{"timestamp":"2024-01-01T00:00:00Z","result":{"v":1}}]>>>???').toString('base64'), model: 'bW9kZWwvUzAx', note: 'a b&c=d é %' };
    const body = new URLSearchParams(sent).toString();
    expect(body).toMatch(/%2B|%2F|%3D/);
    expect({ ...formFields(body) }).toEqual(sent);
  });

  it('keeps a field sent twice as a list, and a name without a value as empty', () => {
    expect({ ...formFields('data=a&data=b&data=c&flag&=x&&') }).toEqual({ data: ['a', 'b', 'c'], flag: '', '': 'x' });
  });

  it('decodes any escape, and refuses a malformed one with the field cleanly', () => {
    expect(formFields('q=%2b%2f%3d%41')).toEqual(expect.objectContaining({ q: '+/=A' }));
    expect(() => formFields('data=QU%ZZ')).toThrow(/malformed escape \(%ZZ\)/);
    expect(() => formFields('data=%2BQU%ZZ')).toThrow(/malformed escape \(%ZZ\)/);
    expect(() => formFields('data=%E9')).toThrow(/malformed escape \(not UTF-8\)/);
  });
});
