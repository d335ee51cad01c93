namespace HpcAdam.Trainer;

/// <summary>
/// Values whose sum over ranks is exact in float32, so a wrong all-reduce shows as a count of
/// wrong elements, not as rounding: rank r holds (i mod 251) + r + 1 at element i, and the
/// sum over P ranks is P·(i mod 251) + P(P+1)/2. The C reference (native/bench) uses the same.
/// </summary>
internal static class SumPattern
{
    private const int Period = 251;

    public static void Fill<T>(Span<T> values, int rank) where T : struct, System.Numerics.INumber<T>
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = T.CreateChecked(i % Period + rank + 1);
    }

    public static long CountWrong<T>(ReadOnlySpan<T> sums, int size) where T : struct, System.Numerics.INumber<T>
    {
        long wrong = 0;
        for (int i = 0; i < sums.Length; i++)
            if (sums[i] != T.CreateChecked((long)size * (i % Period) + (long)size * (size + 1) / 2))
                wrong++;
        return wrong;
    }
}
