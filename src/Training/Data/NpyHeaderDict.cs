using System.Globalization;

namespace HpcAdam.Training;

/// <summary>
/// The few Python literals a header holds: a dict of quoted keys whose values are strings, True,
/// False, tuples of whole numbers (Python 2's <c>3L</c> included) or lists (a structured dtype,
/// kept only as "not a string").
/// </summary>
internal sealed class NpyHeaderDict(string text)
{
    private int _at;

    /// <summary>The dict's entries; a <see cref="FormatException"/> says where it stops being one.</summary>
    public static Dictionary<string, object> Read(string text) => new NpyHeaderDict(text).Entries();

    private Dictionary<string, object> Entries()
    {
        var entries = new Dictionary<string, object>();
        Expect('{');
        while (Peek() != '}')
        {
            string key = Quoted();
            Expect(':');
            entries[key] = Value();
            if (Peek() == ',')
                _at++;
            else if (Peek() != '}')
                throw new FormatException($"',' or '}}' expected at character {_at}");
        }
        return entries;
    }

    private object Value()
    {
        char next = Peek();
        if (next is '\'' or '"')
            return Quoted();
        if (next == '(')
            return Tuple();
        if (next == '[')
            return List();
        foreach ((string word, bool value) in new[] { ("True", true), ("False", false) })
            if (string.CompareOrdinal(text, _at, word, 0, word.Length) == 0)
            {
                _at += word.Length;
                return value;
            }
        throw new FormatException($"a value expected at character {_at}");
    }

    private long[] Tuple()
    {
        Expect('(');
        var values = new List<long>();
        while (Peek() != ')')
        {
            int start = _at;
            while (_at < text.Length && char.IsAsciiDigit(text[_at]))
                _at++;
            if (!long.TryParse(text.AsSpan(start, _at - start), NumberStyles.None, CultureInfo.InvariantCulture, out long value))
                throw new FormatException($"a whole number expected at character {start}");
            values.Add(value);
            if (_at < text.Length && text[_at] == 'L')
                _at++;
            if (Peek() == ',')
                _at++;
            else if (Peek() != ')')
                throw new FormatException($"',' or ')' expected at character {_at}");
        }
        _at++;
        return [.. values];
    }

    /// <summary>Skips a list, brackets and quotes balanced: only that it is one matters.</summary>
    private object[] List()
    {
        int depth = 0;
        char? quote = null;
        do
        {
            if (_at == text.Length)
                throw new FormatException("the list does not end");
            char c = text[_at++];
            if (quote is not null)
                quote = c == quote ? null : quote;
            else if (c is '\'' or '"')
                quote = c;
            else if (c is '[' or '(')
                depth++;
            else if (c is ']' or ')')
                depth--;
        }
        while (depth > 0);
        return [];
    }

    private string Quoted()
    {
        char quote = Peek();
        if (quote is not ('\'' or '"'))
            throw new FormatException($"a quoted string expected at character {_at}");
        int end = text.IndexOf(quote, _at + 1);
        if (end < 0)
            throw new FormatException("a string does not end");
        string value = text[(_at + 1)..end];
        _at = end + 1;
        return value;
    }

    private void Expect(char c)
    {
        if (Peek() != c)
            throw new FormatException($"'{c}' expected at character {_at}");
        _at++;
    }

    /// <summary>The next character that is not white space ('\0' at the end), where reading goes on.</summary>
    private char Peek()
    {
        while (_at < text.Length && char.IsWhiteSpace(text[_at]))
            _at++;
        return _at < text.Length ? text[_at] : '\0';
    }
}
